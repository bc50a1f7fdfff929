//! [`AdminTx`]: a transaction inside an admin session.

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use sqlx::pool::PoolConnection;
use sqlx::postgres::{PgQueryResult, PgRow, PgStatement, PgTransactionManager, PgTypeInfo};
use sqlx::{AssertSqlSafe, Describe, Either, Execute, Executor, Postgres, Row, SqlSafeStr, SqlStr};
use sqlx_core::transaction::TransactionManager;
use tenancy_core::reset::{Leftovers, TxEnd, end_and_reset_sql};

use crate::Result;
use crate::tx::CloseUnlessDisarmed;

/// A transaction inside an admin session (from [`AdminPool::begin`](super::AdminPool::begin)).
/// `&mut AdminTx` is an sqlx `Executor`: raw SQL runs on it, and the
/// database holds it to the session's scope.
///
/// Ending it ([`commit`](Self::commit), [`rollback`](Self::rollback))
/// also resets the session state raw SQL may have left (settings, the
/// session id among them), in the same message; the connection is closed
/// instead of reused when that fails or left prepared statements, and when
/// the transaction is dropped without an end.
#[derive(Debug)]
pub struct AdminTx {
    conn: PoolConnection<Postgres>,
    session: i64,
    open: bool,
}

impl AdminTx {
    pub(super) async fn begin(
        conn: PoolConnection<Postgres>,
        begin_sql: String,
        session: i64,
    ) -> Result<Self> {
        let mut guard = CloseUnlessDisarmed(Some(conn));
        PgTransactionManager::begin(guard.conn(), Some(AssertSqlSafe(begin_sql).into_sql_str()))
            .await?;
        Ok(Self {
            conn: guard.disarm(),
            session,
            open: true,
        })
    }

    /// The session's id in the trail.
    pub fn session(&self) -> i64 {
        self.session
    }

    /// Commits, and resets the connection's session state.
    pub async fn commit(mut self) -> Result<()> {
        self.end(TxEnd::Commit).await
    }

    /// Rolls back (the session's trail row stays), and resets the
    /// connection's session state.
    pub async fn rollback(mut self) -> Result<()> {
        self.end(TxEnd::Rollback).await
    }

    async fn end(&mut self, end: TxEnd) -> Result<()> {
        let result = sqlx::raw_sql(end_and_reset_sql(end, Leftovers::Count))
            .fetch_all(&mut *self.conn)
            .await;
        self.open = false;
        let clean = result.as_ref().is_ok_and(|rows| {
            rows.last()
                .and_then(|row| row.try_get::<i64, _>(0).ok())
                .is_some_and(|prepared| prepared == 0)
        });
        if clean {
            PgTransactionManager::start_rollback(&mut self.conn);
        } else {
            self.conn.close_on_drop();
        }
        result?;
        Ok(())
    }
}

impl Drop for AdminTx {
    fn drop(&mut self) {
        if self.open {
            self.conn.close_on_drop();
        }
    }
}

impl<'c> Executor<'c> for &'c mut AdminTx {
    type Database = Postgres;

    fn fetch_many<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        self.conn.fetch_many(query)
    }

    fn fetch_optional<'e, 'q: 'e, E>(
        self,
        query: E,
    ) -> BoxFuture<'e, Result<Option<PgRow>, sqlx::Error>>
    where
        'c: 'e,
        E: 'q + Execute<'q, Postgres>,
    {
        self.conn.fetch_optional(query)
    }

    fn prepare_with<'e>(
        self,
        sql: SqlStr,
        parameters: &'e [PgTypeInfo],
    ) -> BoxFuture<'e, Result<PgStatement, sqlx::Error>>
    where
        'c: 'e,
    {
        self.conn.prepare_with(sql, parameters)
    }

    fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Postgres>, sqlx::Error>>
    where
        'c: 'e,
    {
        self.conn.describe(sql)
    }
}

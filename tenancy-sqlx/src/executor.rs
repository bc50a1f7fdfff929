//! sqlx's [`Executor`] for `&mut TenantTx` and `&mut TenantSession`: raw
//! SQL runs on them without a `&mut PgConnection` ever being handed out.
//!
//! A `&mut PgConnection` could be swapped (`std::mem::swap`,
//! `mem::replace`) for another tenant's or an administrator's connection,
//! which would then run inside the tenant's transaction and go back to the
//! pool. An executor gives the connection to the driver only.
//!
//! Running raw SQL also marks the connection: raw SQL can change session
//! state that outlives the transaction (settings, temporary tables,
//! `LISTEN`, advisory locks, prepared statements), so the session is reset
//! when the transaction ends, or the connection is closed (see
//! [`TenantTx`](crate::TenantTx)).

use futures_core::future::BoxFuture;
use futures_core::stream::BoxStream;
use sqlx::postgres::{PgQueryResult, PgRow, PgStatement, PgTypeInfo};
use sqlx::{Describe, Either, Error, Execute, Executor, PgConnection, Postgres, SqlStr};

/// A type that hands its connection to raw SQL, remembering that it did.
pub(crate) trait RawConnection {
    /// The connection for raw SQL; marks it as used by raw SQL.
    fn dangerous_raw_connection(&mut self) -> &mut PgConnection;
}

/// Implements [`Executor`] for `&mut $ty` by forwarding to the connection
/// from [`RawConnection::dangerous_raw_connection`].
macro_rules! raw_executor {
    ($ty:ident) => {
        impl<'c, K: tenancy_core::TenantIdType> Executor<'c> for &'c mut crate::$ty<K> {
            type Database = Postgres;

            fn fetch_many<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> BoxStream<'e, Result<Either<PgQueryResult, PgRow>, Error>>
            where
                'c: 'e,
                E: 'q + Execute<'q, Postgres>,
            {
                RawConnection::dangerous_raw_connection(self).fetch_many(query)
            }

            fn fetch_optional<'e, 'q: 'e, E>(
                self,
                query: E,
            ) -> BoxFuture<'e, Result<Option<PgRow>, Error>>
            where
                'c: 'e,
                E: 'q + Execute<'q, Postgres>,
            {
                RawConnection::dangerous_raw_connection(self).fetch_optional(query)
            }

            fn prepare_with<'e>(
                self,
                sql: SqlStr,
                parameters: &'e [PgTypeInfo],
            ) -> BoxFuture<'e, Result<PgStatement, Error>>
            where
                'c: 'e,
            {
                RawConnection::dangerous_raw_connection(self).prepare_with(sql, parameters)
            }

            fn describe<'e>(self, sql: SqlStr) -> BoxFuture<'e, Result<Describe<Postgres>, Error>>
            where
                'c: 'e,
            {
                RawConnection::dangerous_raw_connection(self).describe(sql)
            }
        }
    };
}

raw_executor!(TenantTx);
raw_executor!(TenantSession);

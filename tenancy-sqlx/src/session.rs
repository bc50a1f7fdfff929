//! [`TenantSession`]: the opt-in session-level tenant mode.

use std::fmt;

use sqlx::{AssertSqlSafe, Executor, PgConnection, Row};
use tenancy_core::reset::SESSION_RESET_SQL;
use tenancy_core::rls::SettingName;
use tenancy_core::{Tenant, TenantIdType};
use uuid::Uuid;

use crate::Result;
use crate::executor::RawConnection;
use crate::tx::CloseUnlessDisarmed;

/// A pooled connection with the tenant set at **session** level, for a batch
/// of statements that should not each pay for a transaction.
///
/// Get one from [`TenantPool::dangerous_session`](crate::TenantPool::dangerous_session).
/// `&mut TenantSession` is an sqlx [`Executor`]; every statement on it runs
/// as the tenant:
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
/// # let pool = tenancy_sqlx::TenantPool::new(sqlx::PgPool::connect(db.app_url()).await?);
/// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
/// let mut session = pool.dangerous_session(&acme).await?;
/// let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&mut session).await?;
/// session.release().await?;
/// # assert_eq!(n, 0);
/// # Ok(()) }
/// ```
///
/// End it with [`release`](TenantSession::release), which rolls back a
/// transaction left open, resets the session (the tenant setting and
/// whatever else raw SQL changed, see
/// [`tenancy_core::reset`]) and returns
/// the connection to the pool. A session that is dropped without `release`
/// (an error, a panic, a cancelled future), or on which raw SQL prepared
/// statements, has its connection **closed**, so nothing it set can reach
/// the next user.
///
/// # Limits: read before using
///
/// - **Unsafe behind a transaction-mode pooler** (PgBouncer
///   `pool_mode = transaction`, many cloud "serverless" poolers): the pooler
///   may run each statement on a different server connection, so the
///   statements after the first may run without the tenant, and the setting
///   stays on a server connection that another client gets next. Use
///   [`TenantPool::begin`](crate::TenantPool::begin) there; it is safe
///   with every pooler.
/// - Statements run in autocommit mode: use a transaction when several
///   writes must succeed or fail together.
pub struct TenantSession<K = Uuid> {
    guard: CloseUnlessDisarmed,
    setting: SettingName,
    tenant: Tenant<K>,
}

impl<K: TenantIdType> TenantSession<K> {
    pub(crate) async fn start(
        pool: &sqlx::PgPool,
        setting: SettingName,
        tenant: Tenant<K>,
    ) -> Result<Self> {
        let conn = pool.acquire().await?;
        let mut guard = CloseUnlessDisarmed(Some(conn));
        let sql = format!("SET {setting} = '{}'", tenant.id_ref());
        guard.conn().execute(AssertSqlSafe(sql)).await?;
        Ok(Self {
            guard,
            setting,
            tenant,
        })
    }

    /// The tenant of this session.
    pub fn tenant(&self) -> &Tenant<K> {
        &self.tenant
    }

    /// Rolls back a transaction left open, resets the session and returns
    /// the connection to the pool. If the reset fails, or raw SQL left
    /// prepared statements, the connection is closed instead.
    pub async fn release(mut self) -> Result<()> {
        // `BEGIN; ROLLBACK` ends a transaction that raw SQL left open, and
        // warns of nothing when there is none (the usual case).
        let sql = format!("BEGIN; ROLLBACK; {SESSION_RESET_SQL}");
        let rows = sqlx::raw_sql(AssertSqlSafe(sql))
            .fetch_all(self.guard.conn())
            .await?;
        let prepared = rows.last().and_then(|row| row.try_get::<i64, _>(0).ok());
        if prepared == Some(0) {
            drop(self.guard.disarm());
        }
        Ok(())
    }
}

impl<K: TenantIdType> RawConnection for TenantSession<K> {
    fn dangerous_raw_connection(&mut self) -> &mut PgConnection {
        self.guard.conn()
    }
}

impl<K: TenantIdType> fmt::Debug for TenantSession<K> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantSession")
            .field("tenant", self.tenant.id_ref())
            .field("setting", &self.setting.as_str())
            .finish_non_exhaustive()
    }
}

//! [`TenantSession`]: the opt-in session-level tenant mode.

use std::fmt;
use std::ops::{Deref, DerefMut};

use sqlx::{AssertSqlSafe, Executor, PgConnection};
use tenancy_core::Tenant;
use tenancy_core::rls::SettingName;

use crate::Result;
use crate::tx::CloseUnlessDisarmed;

/// A pooled connection with the tenant set at **session** level, for a batch
/// of statements that should not each pay for a transaction.
///
/// Get one from [`TenantPool::session`](crate::TenantPool::session). It
/// derefs to [`PgConnection`]; every statement on it runs as the tenant.
///
/// End it with [`release`](TenantSession::release), which resets the setting
/// and returns the connection to the pool. A session that is dropped without
/// `release` (an error, a panic, a cancelled future) has its connection
/// **closed**, so a tenant setting can never reach the next user.
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
pub struct TenantSession {
    guard: CloseUnlessDisarmed,
    setting: SettingName,
    tenant: Tenant,
}

impl TenantSession {
    pub(crate) async fn start(
        pool: &sqlx::PgPool,
        setting: SettingName,
        tenant: Tenant,
    ) -> Result<Self> {
        let conn = pool.acquire().await?;
        let mut guard = CloseUnlessDisarmed(Some(conn));
        let sql = format!("SET {setting} = '{}'", tenant.id());
        guard.conn().execute(AssertSqlSafe(sql)).await?;
        Ok(Self {
            guard,
            setting,
            tenant,
        })
    }

    /// The tenant of this session.
    pub fn tenant(&self) -> &Tenant {
        &self.tenant
    }

    /// Resets the tenant setting and returns the connection to the pool.
    /// If the reset fails, the connection is closed instead.
    pub async fn release(mut self) -> Result<()> {
        let sql = format!("RESET {}", self.setting);
        self.guard.conn().execute(AssertSqlSafe(sql)).await?;
        drop(self.guard.disarm());
        Ok(())
    }
}

impl Deref for TenantSession {
    type Target = PgConnection;

    fn deref(&self) -> &PgConnection {
        match &self.guard.0 {
            Some(conn) => conn,
            None => unreachable!(
                "the connection is only taken by `release`, which consumes the session"
            ),
        }
    }
}

impl DerefMut for TenantSession {
    fn deref_mut(&mut self) -> &mut PgConnection {
        self.guard.conn()
    }
}

impl fmt::Debug for TenantSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TenantSession")
            .field("tenant", &self.tenant.id())
            .field("setting", &self.setting.as_str())
            .finish_non_exhaustive()
    }
}

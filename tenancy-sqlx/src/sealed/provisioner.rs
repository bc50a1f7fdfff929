//! [`SealedProvisioner`]: creates, rotates and drops sealed tenants' login
//! roles.

use std::fmt::Write as _;
use std::sync::Arc;

use sqlx::PgPool;
use tenancy_core::rls::sealed::{SEALED_GROUP_ROLE, SEALED_ROLES_TABLE};
use tenancy_core::rls::{SealedRole, SealedSetup};
use tenancy_core::{TenantId, TenantIdType};

use super::SealedLogins;
use crate::id_type::PgTenantId;
use crate::{Error, Result};

/// Creates, rotates and drops the login roles of sealed tenants, on a pool
/// of the role named [manager](tenancy_core::rls::SealedSetup::manager)
/// (`CREATEROLE`, not a superuser, not the application role).
///
/// ```
/// # use tenancy_core::rls::{SealedSetup, TenantPolicy};
/// use tenancy_sqlx::sealed::{SealedLogins, SealedProvisioner};
/// use tenancy_core::{IdSqlType, TenantId};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # db.admin_sql(&SealedSetup::group_role_sql())?;
/// # db.owner_sql(&format!("CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY, {}); {} {} {}",
/// #     TenantPolicy::new("orders")?.column_sql(), TenantPolicy::new("orders")?.enable_sql(),
/// #     SealedSetup::new(IdSqlType::Uuid).manager(tenancy_testing::PROVISIONER_ROLE)?.table_sql(),
/// #     TenantPolicy::new("orders")?.sealed_sql()))?;
/// # let secret = [42u8; 32];
/// let logins = SealedLogins::new("2026-11", &secret)?;
/// let provisioner = SealedProvisioner::new(sqlx::PgPool::connect(db.provisioner_url()).await?, logins);
/// let acme = TenantId::new_v4();
/// let role = provisioner.seal(&acme).await?;       // login role, verifier, map entry
/// assert!(provisioner.is_sealed(&acme).await?);
/// provisioner.rotate(&acme).await?;                // the current secret's verifier
/// provisioner.unseal(&acme).await?;                // role dropped, rows back on the shared path
/// assert!(!provisioner.is_sealed(&acme).await?);
/// # let _ = role; Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SealedProvisioner {
    pool: PgPool,
    logins: Arc<SealedLogins>,
    connection_limit: Option<u16>,
}

impl SealedProvisioner {
    /// A provisioner on `pool` (the manager role) deriving credentials with
    /// `logins`.
    pub fn new(pool: PgPool, logins: SealedLogins) -> Self {
        Self {
            pool,
            logins: Arc::new(logins),
            connection_limit: Some(4),
        }
    }

    /// At most `max` connections of each sealed tenant at once, enforced by
    /// the server (`CONNECTION LIMIT`). Default 4; `None` for no limit.
    #[must_use]
    pub fn connection_limit(mut self, max: Option<u16>) -> Self {
        self.connection_limit = max;
        self
    }

    /// Creates the group role when missing
    /// ([`SealedSetup::group_role_sql`]).
    pub async fn ensure_group_role(&self) -> Result<()> {
        sqlx::raw_sql(sqlx::AssertSqlSafe(SealedSetup::group_role_sql()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Seals tenant `id`: creates its login role (member of
    /// [`SEALED_GROUP_ROLE`], no other membership, no attribute that
    /// bypasses anything, the current secret's SCRAM verifier) and maps it
    /// to the tenant, in one transaction. Then mark the tenant's placement
    /// [sealed](tenancy_core::Placement::sealed). From the commit on, the
    /// shared application role no longer sees the tenant's rows.
    pub async fn seal<K: PgTenantId>(&self, id: &TenantId<K>) -> Result<SealedRole> {
        let role = SealedRole::for_tenant(id);
        let limit = self
            .connection_limit
            .map_or(-1, |max| i32::from(max.max(1)));
        let mut tx = self.pool.begin().await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "CREATE ROLE {role} LOGIN INHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION \
             NOBYPASSRLS CONNECTION LIMIT {limit} PASSWORD '{verifier}' IN ROLE {SEALED_GROUP_ROLE}",
            role = role.sql(),
            verifier = self.logins.scram_verifier(&role),
        )))
        .execute(&mut *tx)
        .await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "INSERT INTO {SEALED_ROLES_TABLE} (role_name, tenant) VALUES ($1, $2)"
        )))
        .bind(role.as_str())
        .bind(id.value().clone())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(role)
    }

    /// Whether tenant `id` is mapped to a sealed login role.
    pub async fn is_sealed<K: PgTenantId>(&self, id: &TenantId<K>) -> Result<bool> {
        let found: Option<String> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
            "SELECT role_name::text FROM {SEALED_ROLES_TABLE} WHERE tenant = $1"
        )))
        .bind(id.value().clone())
        .fetch_optional(&self.pool)
        .await?;
        Ok(found.is_some())
    }

    /// Sets the role's verifier to the current secret's. Sessions already
    /// open stay open; new ones need the current secret.
    pub async fn rotate<K: TenantIdType>(&self, id: &TenantId<K>) -> Result<()> {
        let role = SealedRole::for_tenant(id);
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER ROLE {} PASSWORD '{}'",
            role.sql(),
            self.logins.scram_verifier(&role)
        )))
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes tenant `id` out of the sealed tier: its role can no longer log
    /// in, its sessions are ended (the manager makes itself a member of the
    /// role to do so), its map
    /// entry is removed and the role dropped. Mark the placement shared
    /// again **before** calling this, so no new sealed pool opens.
    pub async fn unseal<K: PgTenantId>(&self, id: &TenantId<K>) -> Result<()> {
        let role = SealedRole::for_tenant(id);
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "ALTER ROLE {} NOLOGIN",
            role.sql()
        )))
        .execute(&self.pool)
        .await?;
        // Ending another role's sessions needs membership in it (or
        // pg_signal_backend); a manager with CREATEROLE can grant itself
        // that, until the role is dropped below.
        let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "GRANT {} TO CURRENT_USER",
            role.sql()
        )))
        .execute(&self.pool)
        .await;
        if let Err(err) = self.end_sessions(&role).await {
            // The membership was only for this: the manager must not stay a
            // member of a sealed role (its own sessions would count as one).
            let _ = sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
                "REVOKE {} FROM CURRENT_USER",
                role.sql()
            )))
            .execute(&self.pool)
            .await;
            return Err(err);
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query(sqlx::AssertSqlSafe(format!(
            "DELETE FROM {SEALED_ROLES_TABLE} WHERE role_name = $1"
        )))
        .bind(role.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("DROP ROLE {}", role.sql())))
            .execute(&mut *tx)
            .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Ends the sessions of `role` and waits until they are gone: while one
    /// lives after its map entry is removed, the tenant's rows would be
    /// shared-path rows it could reach through the setting.
    async fn end_sessions(&self, role: &SealedRole) -> Result<()> {
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        loop {
            let alive: Vec<bool> = sqlx::query_scalar(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = $1",
            )
            .bind(role.as_str())
            .fetch_all(&self.pool)
            .await?;
            if alive.is_empty() {
                return Ok(());
            }
            if std::time::Instant::now() >= deadline {
                return Err(Error::SealedSessionsOpen {
                    role: role.to_string(),
                });
            }
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        }
    }

    /// Lines for pgbouncer's `auth_file` (`"role" "SCRAM-SHA-256$..."`) for
    /// the given tenants: with the same verifier as the server, pgbouncer
    /// authenticates each sealed tenant and logs in to the server with the
    /// client's own SCRAM proof, in a pool per tenant role. No password is
    /// written.
    pub fn pgbouncer_auth_lines<'a, K: TenantIdType + 'a>(
        &self,
        ids: impl IntoIterator<Item = &'a TenantId<K>>,
    ) -> String {
        let mut lines = String::new();
        for id in ids {
            let role = SealedRole::for_tenant(id);
            let _ = writeln!(
                lines,
                "\"{role}\" \"{}\"",
                self.logins.scram_verifier(&role)
            );
        }
        lines
    }
}

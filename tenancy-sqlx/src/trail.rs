//! [`ActivityTrail`]: who did what to which record, per tenant, written in
//! the same transaction as the change.

use std::fmt::Write as _;

use sqlx::AssertSqlSafe;
use tenancy_core::rls::{Ident, TenantPolicy};

use crate::{Result, TenantTx};

/// An append-only activity log table under row-level security: tenant id
/// (filled from the transaction's tenant), actor, the staff member who
/// impersonated the actor if one did, action, target, time.
///
/// [`record`](Self::record) writes an entry in the transaction of the
/// change it describes, so the entry exists exactly when the change does
/// (a rolled-back change leaves no entry, a committed one cannot lack it).
/// Tenants read only their own entries, like any tenant table.
///
/// ```
/// use tenancy_sqlx::trail::ActivityTrail;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
/// # let pool = tenancy_sqlx::TenantPool::new(sqlx::PgPool::connect(db.app_url()).await?);
/// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
/// let trail = ActivityTrail::new();
/// // In a migration, as the table owner:
/// db.owner_sql(&trail.create_table_sql(Some(tenancy_testing::APP_ROLE))?)?;
///
/// let mut tx = pool.begin(&acme).await?;
/// let id: uuid::Uuid = sqlx::query_scalar("INSERT INTO orders (item) VALUES ('Burger') RETURNING id")
///     .fetch_one(&mut tx)
///     .await?;
/// trail.record(&mut tx, "alice", "order.create", &format!("orders/{id}")).await?;
/// tx.commit().await?;
/// # let entries = db.admin_sql("SELECT actor || ' ' || action FROM tenancy_activity_log")?;
/// # assert_eq!(entries, "alice order.create");
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct ActivityTrail {
    policy: TenantPolicy,
}

impl Default for ActivityTrail {
    fn default() -> Self {
        Self::new()
    }
}

impl ActivityTrail {
    /// The trail in table `tenancy_activity_log`.
    pub fn new() -> Self {
        let policy = TenantPolicy::new("tenancy_activity_log")
            .unwrap_or_else(|_| unreachable!("a valid table name"));
        Self { policy }
    }

    /// Uses another table (optionally `schema.table`).
    pub fn with_table(mut self, table: &str) -> Result<Self> {
        self.policy = TenantPolicy::new(table)?;
        Ok(self)
    }

    /// Migration SQL: the table, its index and its policy. With `app_role`,
    /// grants that role `SELECT` and `INSERT` only: the application can
    /// append entries but never change or remove them.
    pub fn create_table_sql(&self, app_role: Option<&str>) -> Result<String> {
        let table = self.policy.table().sql();
        let mut sql = format!(
            "CREATE TABLE {table} (\n    \
             id bigint GENERATED ALWAYS AS IDENTITY,\n    \
             {},\n    \
             at timestamptz NOT NULL DEFAULT now(),\n    \
             actor text NOT NULL,\n    \
             impersonated_by text,\n    \
             action text NOT NULL,\n    \
             target text NOT NULL,\n    \
             PRIMARY KEY ({}, id)\n);\n{}",
            self.policy.column_sql(),
            self.policy.column().sql(),
            self.policy.enable_sql()
        );
        if let Some(role) = app_role {
            let role = Ident::new(role)?;
            // Writing into a String cannot fail.
            let _ = write!(
                sql,
                "REVOKE ALL ON {table} FROM {role};\nGRANT SELECT, INSERT ON {table} TO {role};\n",
                role = role.sql()
            );
        }
        Ok(sql)
    }

    /// The transaction's tenant's latest `limit` entries, newest first
    /// (row-level security keeps them to that tenant).
    pub async fn recent(&self, tx: &mut TenantTx, limit: u32) -> Result<Vec<TrailEntry>> {
        let sql = format!(
            "SELECT extract(epoch FROM at)::float8, actor, impersonated_by, action, target \
             FROM {} ORDER BY at DESC, id DESC LIMIT $1",
            self.policy.table().sql()
        );
        let rows: Vec<(f64, String, Option<String>, String, String)> =
            sqlx::query_as(AssertSqlSafe(sql))
                .bind(i64::from(limit))
                .fetch_all(tx.conn())
                .await?;
        Ok(rows
            .into_iter()
            .map(|(at, actor, impersonated_by, action, target)| TrailEntry {
                at: std::time::UNIX_EPOCH
                    + std::time::Duration::try_from_secs_f64(at.max(0.0)).unwrap_or_default(),
                actor,
                impersonated_by,
                action,
                target,
            })
            .collect())
    }

    /// Appends an entry for the transaction's tenant. When a staff member
    /// acts as the tenant's user (an impersonation token:
    /// [`Tenant::impersonated_by`](tenancy_core::Tenant::impersonated_by)),
    /// the entry names them in `impersonated_by`, so the tenant's own trail
    /// shows who really acted.
    pub async fn record(
        &self,
        tx: &mut TenantTx,
        actor: &str,
        action: &str,
        target: &str,
    ) -> Result<()> {
        let sql = format!(
            "INSERT INTO {} ({}, actor, impersonated_by, action, target) VALUES ($1, $2, $3, $4, $5)",
            self.policy.table().sql(),
            self.policy.column().sql()
        );
        let tenant = tx.tenant().id();
        let impersonated_by = tx.tenant().impersonated_by().map(str::to_owned);
        sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.as_uuid())
            .bind(actor)
            .bind(impersonated_by)
            .bind(action)
            .bind(target)
            .execute(tx.conn())
            .await?;
        Ok(())
    }
}

/// One entry of an [`ActivityTrail`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TrailEntry {
    /// When.
    pub at: std::time::SystemTime,
    /// Who.
    pub actor: String,
    /// The staff member who acted as `actor`, if one did.
    pub impersonated_by: Option<String>,
    /// What.
    pub action: String,
    /// On what.
    pub target: String,
}

//! The torture's `tenancy-sqlx` backend.

use sqlx::{PgPool, Row};
use tenancy_core::Tenant;
use tenancy_core::rls::{IsolationLevel, TxOptions};
use tenancy_sqlx::routing::RoutedPool;
use tenancy_sqlx::{BeginTenantTx, Scoped, TenantPool, TenantTx};
use uuid::Uuid;

use super::{
    Backend, BackendResult, Commit, End, INJECTED_PANIC, Read, override_options, plant_sql,
};
use crate::fixture::Orders;

/// `tenancy-sqlx` over a `PgPool` ([`TenantPool`]), or over a
/// [`RoutedPool`] that serves sealed tenants on their own roles.
#[derive(Debug, Clone)]
pub struct Sqlx<P = TenantPool> {
    pool: P,
    raw: PgPool,
    max_connections: u32,
    /// Behind a transaction pooler (see [`super::plant_sql`]).
    pooler: bool,
}

impl Sqlx {
    /// The backend on `app`, the app role's pool directly on PostgreSQL.
    pub fn new(app: PgPool, max_connections: u32) -> Self {
        Self {
            pool: TenantPool::new(app.clone()),
            raw: app,
            max_connections,
            pooler: false,
        }
    }

    /// The backend on `app` through pgbouncer before 1.21 in transaction
    /// mode, which cannot keep named prepared statements: every query is
    /// unnamed ([`TenantPool::unnamed_statements`]).
    pub fn through_pgbouncer(app: PgPool, max_connections: u32) -> Self {
        Self {
            pool: TenantPool::new(app.clone()).unnamed_statements(),
            raw: app,
            max_connections,
            pooler: true,
        }
    }
}

impl Sqlx<RoutedPool> {
    /// The backend on `routed`, whose sealed tenants log in as themselves;
    /// `app` is the app role's pool (for the checks of pooled connections).
    pub fn routed(routed: RoutedPool, app: PgPool, max_connections: u32) -> Self {
        Self {
            pool: routed,
            raw: app,
            max_connections,
            pooler: false,
        }
    }
}

fn text(err: impl std::fmt::Display) -> String {
    err.to_string()
}

async fn insert_row(tx: &mut TenantTx, tenant: &Tenant, op: Uuid) -> BackendResult<()> {
    Scoped::<Orders>::insert()
        .value("op", op)
        .for_tenant(tenant)
        .execute(tx)
        .await
        .map(drop)
        .map_err(text)
}

impl<P> Backend for Sqlx<P>
where
    P: BeginTenantTx + Clone + std::fmt::Debug + 'static,
{
    fn name(&self) -> &'static str {
        "tenancy-sqlx"
    }

    async fn insert(&self, tenant: &Tenant, op: Uuid) -> BackendResult<Commit> {
        let mut tx = self.pool.begin(tenant).await.map_err(text)?;
        insert_row(&mut tx, tenant, op).await?;
        Ok(match tx.commit().await {
            Ok(()) => Commit::Committed,
            Err(_) => Commit::Ambiguous,
        })
    }

    async fn read(&self, tenant: &Tenant) -> BackendResult<Read> {
        let snapshot = TxOptions::default().isolation(IsolationLevel::RepeatableRead);
        let mut tx = self
            .pool
            .begin_with(tenant, &snapshot)
            .await
            .map_err(text)?;
        let raw_owners: Vec<Uuid> = sqlx::query_scalar("SELECT tenant_id FROM orders")
            .persistent(tx.named_statements())
            .fetch_all(&mut tx)
            .await
            .map_err(text)?;
        let scoped: Vec<(Uuid, Uuid)> = Scoped::<Orders>::select()
            .columns(&["op", "tenant_id"])
            .for_tenant(tenant)
            .fetch_all(&mut tx)
            .await
            .map_err(text)?;
        tx.commit().await.map_err(text)?;
        Ok(Read { raw_owners, scoped })
    }

    async fn attack(&self, tenant: &Tenant, victim: &Tenant) -> BackendResult<(i64, u64, bool)> {
        let mut tx = self.pool.begin(tenant).await.map_err(text)?;
        let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE tenant_id = $1")
            .bind(victim.id().as_uuid())
            .persistent(tx.named_statements())
            .fetch_one(&mut tx)
            .await
            .map_err(text)?;
        let changed = sqlx::query("UPDATE orders SET quantity = quantity + 1 WHERE tenant_id = $1")
            .bind(victim.id().as_uuid())
            .persistent(tx.named_statements())
            .execute(&mut tx)
            .await
            .map_err(text)?
            .rows_affected();
        let planted = sqlx::query("INSERT INTO orders (tenant_id, op) VALUES ($1, $2)")
            .bind(victim.id().as_uuid())
            .bind(Uuid::new_v4())
            .persistent(tx.named_statements())
            .execute(&mut tx)
            .await
            .is_ok();
        Ok((seen, changed, planted))
    }

    async fn raw_sql_attack(&self, tenant: &Tenant, victim: &Tenant) -> BackendResult<bool> {
        let accepted = self
            .pool
            .begin_with(tenant, &override_options(victim)?)
            .await
            .is_ok();
        let mut tx = self.pool.begin(tenant).await.map_err(text)?;
        let after_commit = !self.pooler && tenant.id() < victim.id();
        sqlx::raw_sql(sqlx::AssertSqlSafe(plant_sql(victim, after_commit)))
            .execute(&mut tx)
            .await
            .map_err(text)?;
        tx.commit().await.map_err(text)?;
        Ok(accepted)
    }

    async fn uncommitted(&self, tenant: &Tenant, op: Uuid, end: End) -> BackendResult<()> {
        let mut tx = self.pool.begin(tenant).await.map_err(text)?;
        insert_row(&mut tx, tenant, op).await?;
        match end {
            End::Sleep => {
                sqlx::query("SELECT pg_sleep(0.005)")
                    .persistent(tx.named_statements())
                    .execute(&mut tx)
                    .await
                    .map_err(text)?;
            }
            End::Panic => std::panic::panic_any(INJECTED_PANIC),
            End::StatementError => {
                sqlx::query("SELECT 1 / 0")
                    .persistent(tx.named_statements())
                    .execute(&mut tx)
                    .await
                    .map_err(text)?;
            }
            End::Rollback => tx.rollback().await.map_err(text)?,
        }
        Ok(())
    }

    async fn no_tenant(&self) -> BackendResult<(Option<String>, i64)> {
        // In a plain transaction: behind a transaction pooler, a statement
        // outside one may be parsed on one server connection and executed
        // on another.
        let mut tx = self.raw.begin().await.map_err(text)?;
        let seen = sqlx::query_as(
            "SELECT current_setting('app.tenant_id', true), (SELECT count(*) FROM orders)",
        )
        .persistent(false)
        .fetch_one(&mut *tx)
        .await
        .map_err(text)?;
        tx.commit().await.map_err(text)?;
        Ok(seen)
    }

    async fn pooled_settings(&self) -> BackendResult<Vec<Option<String>>> {
        let mut held = Vec::new();
        for _ in 0..self.max_connections {
            held.push(self.raw.acquire().await.map_err(text)?);
        }
        let mut settings = Vec::new();
        for conn in &mut held {
            // The simple query protocol: one message, nothing prepared, so a
            // transaction pooler cannot split it across server connections.
            let row = sqlx::raw_sql("SELECT current_setting('app.tenant_id', true)")
                .fetch_one(&mut **conn)
                .await
                .map_err(text)?;
            settings.push(row.try_get(0).map_err(text)?);
        }
        Ok(settings)
    }
}

//! The torture's `tenancy-diesel` backend (diesel-async on deadpool).

use diesel::prelude::*;
use diesel::sql_types::{Nullable, Text, Uuid as SqlUuid};
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool;
use diesel_async::{AsyncConnection as _, AsyncPgConnection, RunQueryDsl};
use tenancy_core::Tenant;
use tenancy_core::rls::{IsolationLevel, TxOptions};
use tenancy_diesel::{AsyncTenantPool, AsyncTenantTx, ForTenantDsl};
use uuid::Uuid;

use super::{
    Backend, BackendResult, Commit, End, INJECTED_PANIC, Read, override_options, plant_sql,
};

diesel::table! {
    orders (tenant_id, id) {
        id -> Uuid,
        tenant_id -> Uuid,
        op -> Uuid,
        quantity -> Int4,
    }
}
tenancy_diesel::tenant_table!(orders.tenant_id);

#[derive(QueryableByName)]
struct Owner {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
}

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Nullable<Text>)]
    setting: Option<String>,
}

#[derive(QueryableByName)]
struct Seen {
    #[diesel(sql_type = Nullable<Text>)]
    setting: Option<String>,
    #[diesel(sql_type = diesel::sql_types::BigInt)]
    rows: i64,
}

/// `tenancy-diesel`'s `AsyncTenantPool` over deadpool.
#[derive(Clone)]
pub struct DieselAsync {
    pool: AsyncTenantPool,
    snapshot: AsyncTenantPool,
    raw: Pool<AsyncPgConnection>,
    max_connections: usize,
    /// Behind a transaction pooler (see [`super::plant_sql`]).
    pooler: bool,
}

impl std::fmt::Debug for DieselAsync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DieselAsync")
    }
}

impl DieselAsync {
    /// The backend on `url` (the app role, directly), diesel-async's defaults.
    pub fn new(url: &str, max_connections: usize) -> Result<Self, String> {
        Self::with_manager(
            AsyncDieselConnectionManager::<AsyncPgConnection>::new(url),
            max_connections,
            false,
        )
    }

    /// The backend on `url` through pgbouncer in transaction mode, configured
    /// as `tenancy_diesel::pgbouncer` tells users to.
    pub fn through_pgbouncer(url: &str, max_connections: usize) -> Result<Self, String> {
        Self::with_manager(
            AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
                url,
                tenancy_diesel::pgbouncer::manager_config(),
            ),
            max_connections,
            true,
        )
    }

    fn with_manager(
        manager: AsyncDieselConnectionManager<AsyncPgConnection>,
        max_connections: usize,
        pooler: bool,
    ) -> Result<Self, String> {
        // No wait timeout here (deadpool would need its runtime feature): the
        // torture bounds every operation itself.
        let raw = Pool::builder(manager)
            .max_size(max_connections)
            .build()
            .map_err(text)?;
        let pool = AsyncTenantPool::new(raw.clone());
        let snapshot = pool.clone().with_binding(
            tenancy_core::rls::TenantBinding::default()
                .with_tx_options(TxOptions::default().isolation(IsolationLevel::RepeatableRead)),
        );
        Ok(Self {
            pool,
            snapshot,
            raw,
            max_connections,
            pooler,
        })
    }
}

fn text(err: impl std::fmt::Display) -> String {
    err.to_string()
}

async fn insert_row(tx: &mut AsyncTenantTx, op: Uuid) -> BackendResult<()> {
    tx.insert(diesel::insert_into(orders::table).values(orders::op.eq(op)))
        .await
        .map(drop)
        .map_err(text)
}

impl Backend for DieselAsync {
    fn name(&self) -> &'static str {
        "tenancy-diesel (diesel-async)"
    }

    async fn insert(&self, tenant: &Tenant, op: Uuid) -> BackendResult<Commit> {
        let mut tx = self.pool.begin(tenant).await.map_err(text)?;
        insert_row(&mut tx, op).await?;
        Ok(match tx.commit().await {
            Ok(()) => Commit::Committed,
            Err(_) => Commit::Ambiguous,
        })
    }

    async fn read(&self, tenant: &Tenant) -> BackendResult<Read> {
        let mut tx = self.snapshot.begin(tenant).await.map_err(text)?;
        let owners: Vec<Owner> = diesel::sql_query("SELECT tenant_id FROM orders")
            .load(tx.dangerous_raw_connection().map_err(text)?)
            .await
            .map_err(text)?;
        let scoped: Vec<(Uuid, Uuid)> = tx
            .fetch_all(
                orders::table
                    .for_tenant(tenant)
                    .select((orders::op, orders::tenant_id)),
            )
            .await
            .map_err(text)?;
        tx.commit().await.map_err(text)?;
        Ok(Read {
            raw_owners: owners.into_iter().map(|o| o.tenant_id).collect(),
            scoped,
        })
    }

    async fn attack(&self, tenant: &Tenant, victim: &Tenant) -> BackendResult<(i64, u64, bool)> {
        let mut tx = self.pool.begin(tenant).await.map_err(text)?;
        let conn = tx.dangerous_raw_connection().map_err(text)?;
        let seen: i64 = orders::table
            .filter(orders::tenant_id.eq(victim.id().as_uuid()))
            .count()
            .get_result(conn)
            .await
            .map_err(text)?;
        let changed =
            diesel::update(orders::table.filter(orders::tenant_id.eq(victim.id().as_uuid())))
                .set(orders::quantity.eq(orders::quantity + 1))
                .execute(conn)
                .await
                .map_err(text)?;
        let planted = diesel::insert_into(orders::table)
            .values((
                orders::tenant_id.eq(victim.id().as_uuid()),
                orders::op.eq(Uuid::new_v4()),
            ))
            .execute(conn)
            .await
            .is_ok();
        Ok((seen, u64::try_from(changed).unwrap_or(u64::MAX), planted))
    }

    async fn raw_sql_attack(&self, tenant: &Tenant, victim: &Tenant) -> BackendResult<bool> {
        use diesel_async::SimpleAsyncConnection as _;
        let overridden = self.pool.clone().with_binding(
            tenancy_core::rls::TenantBinding::default().with_tx_options(override_options(victim)?),
        );
        let accepted = overridden.begin(tenant).await.is_ok();
        let mut tx = self.pool.begin(tenant).await.map_err(text)?;
        let after_commit = !self.pooler && tenant.id() < victim.id();
        tx.dangerous_raw_connection()
            .map_err(text)?
            .batch_execute(&plant_sql(victim, after_commit))
            .await
            .map_err(text)?;
        tx.commit().await.map_err(text)?;
        Ok(accepted)
    }

    async fn uncommitted(&self, tenant: &Tenant, op: Uuid, end: End) -> BackendResult<()> {
        let mut tx = self.pool.begin(tenant).await.map_err(text)?;
        insert_row(&mut tx, op).await?;
        match end {
            End::Sleep => {
                diesel::sql_query("SELECT pg_sleep(0.005)")
                    .execute(tx.dangerous_raw_connection().map_err(text)?)
                    .await
                    .map_err(text)?;
            }
            End::Panic => std::panic::panic_any(INJECTED_PANIC),
            End::StatementError => {
                diesel::sql_query("SELECT 1 / 0")
                    .execute(tx.dangerous_raw_connection().map_err(text)?)
                    .await
                    .map_err(text)?;
            }
            End::Rollback => tx.rollback().await.map_err(text)?,
        }
        Ok(())
    }

    async fn no_tenant(&self) -> BackendResult<(Option<String>, i64)> {
        let mut conn = self.raw.get().await.map_err(text)?;
        // In a transaction of its own: through pgbouncer, tokio-postgres's
        // prepare and execute round trips could otherwise land on two
        // server connections.
        let seen: Seen = conn
            .transaction(async |conn| {
                diesel::sql_query(
                    "SELECT current_setting('app.tenant_id', true) AS setting, (SELECT count(*) FROM orders) AS rows",
                )
                .get_result(conn)
                .await
            })
            .await
            .map_err(text)?;
        Ok((seen.setting, seen.rows))
    }

    async fn pooled_settings(&self) -> BackendResult<Vec<Option<String>>> {
        let mut held = Vec::new();
        for _ in 0..self.max_connections {
            held.push(self.raw.get().await.map_err(text)?);
        }
        let mut settings = Vec::new();
        for conn in &mut held {
            let setting: Setting = conn
                .transaction(async |conn| {
                    diesel::sql_query("SELECT current_setting('app.tenant_id', true) AS setting")
                        .get_result(conn)
                        .await
                })
                .await
                .map_err(text)?;
            settings.push(setting.setting);
        }
        Ok(settings)
    }
}

//! [`TenantPool`]: the only door from the application to the database.

use sqlx::PgPool;
use tenancy_core::rls::{SettingName, TenantBinding, TxOptions};
use tenancy_core::{Tenant, TenantContextOf, TenantIdType};
use uuid::Uuid;

use crate::{Result, TenantSession, TenantTx, TxMeter};

/// A PostgreSQL connection pool that hands out connections only for a tenant.
///
/// Unlike [`sqlx::PgPool`], a `TenantPool` is **not** an
/// [`Executor`](sqlx::Executor): no query can run on it directly. The only
/// ways in are [`begin`](TenantPool::begin) (a transaction with the tenant
/// set for row-level security), [`begin_current`](TenantPool::begin_current)
/// (the tenant from [`TenantContext`](tenancy_core::TenantContextOf), failing closed without one) and the
/// opt-in [`dangerous_session`](TenantPool::dangerous_session).
///
/// ```
/// use tenancy_sqlx::TenantPool;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
/// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
/// # let database_url = db.app_url().to_owned(); // the application role's URL
/// let pg = sqlx::postgres::PgPoolOptions::new()
///     .max_connections(10)
///     .connect(&database_url)
///     .await?;
/// let pool = TenantPool::new(pg);
///
/// let mut tx = pool.begin(&acme).await?;
/// sqlx::query("INSERT INTO orders (item) VALUES ($1)").bind("Burger").execute(&mut tx).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
///
/// Connect with a role that is not a superuser, does not own the tables and
/// has no `BYPASSRLS`: those roles skip row-level security.
///
/// # Round trips
///
/// A one-query tenant transaction is as many round trips as a plain sqlx
/// one: `BEGIN` with the tenant (one message), the query, `COMMIT`, plus
/// sqlx's two pings: when the pool hands out an idle connection
/// (`test_before_acquire`, on by default) and when the connection comes
/// back (always; it flushes a queued `ROLLBACK`). `PgPoolOptions::
/// test_before_acquire(false)` saves the first one safely, since the tenant
/// is bound per transaction: the cost is that the first transaction on a
/// connection the server closed fails instead of being retried on another.
#[derive(Debug, Clone)]
pub struct TenantPool<K = Uuid> {
    pool: PgPool,
    binding: TenantBinding,
    named_statements: bool,
    meter: Option<TxMeter<K>>,
    id_type: std::marker::PhantomData<fn() -> K>,
}

impl TenantPool<Uuid> {
    /// Wraps `pool`, for tenants with UUID ids. Tenants are bound through
    /// the setting `app.tenant_id`.
    ///
    /// Keep no other handle to `pool` in application code: a plain `PgPool`
    /// runs queries without a tenant (row-level security then returns no rows).
    ///
    /// For tenant ids of another type, convert instead:
    /// `TenantPool::<i64>::from(pg)`.
    pub fn new(pool: PgPool) -> Self {
        Self::from(pool)
    }
}

impl<K> From<PgPool> for TenantPool<K> {
    /// Wraps `pool`, for tenants with ids of type `K`:
    /// `TenantPool::<i64>::from(pg)`. See [`TenantPool::new`].
    fn from(pool: PgPool) -> Self {
        Self {
            pool,
            binding: TenantBinding::default(),
            named_statements: true,
            meter: None,
            id_type: std::marker::PhantomData,
        }
    }
}

impl<K: TenantIdType> TenantPool<K> {
    /// Binds tenants another way (setting name, transaction options).
    #[must_use]
    pub fn with_binding(mut self, binding: TenantBinding) -> Self {
        self.binding = binding;
        self
    }

    /// Prepares the SDK's queries as unnamed statements, for transaction
    /// poolers that cannot keep named ones: **pgbouncer before 1.21** (or
    /// later without `max_prepared_statements`) in transaction mode, where
    /// the next transaction may run on another server connection.
    ///
    /// sqlx prepares every query as a named statement (`sqlx_s_1`, ...),
    /// numbered per client connection, even with the statement cache off.
    /// Behind such a pooler two clients' statements meet on one server
    /// connection and fail with `prepared statement "sqlx_s_1" already
    /// exists` (or `does not exist`): failures, never leaks, but frequent
    /// ones. With this setting the [`Scoped`](crate::Scoped) builders use
    /// unnamed statements ([`TenantTx::named_statements`] is `false`); mark
    /// your own queries with `.persistent(false)` as well. The cost is one
    /// parse per query.
    ///
    /// ```no_run
    /// # async fn demo() -> Result<(), sqlx::Error> {
    /// let pg = sqlx::postgres::PgPoolOptions::new()
    ///     .connect("postgres://app@pgbouncer:6432/pos")
    ///     .await?;
    /// let pool = tenancy_sqlx::TenantPool::new(pg).unnamed_statements();
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn unnamed_statements(mut self) -> Self {
        self.named_statements = false;
        self
    }

    /// Reports every transaction to `meter`'s observer when it ends: its
    /// tenant, time, outcome and, if counted, rows written (see
    /// [`TxMeter`]). Sessions from
    /// [`dangerous_session`](Self::dangerous_session) are not metered.
    #[must_use]
    pub fn metered(mut self, meter: TxMeter<K>) -> Self {
        self.meter = Some(meter);
        self
    }

    /// The setting that carries the tenant.
    pub fn setting(&self) -> &SettingName {
        self.binding.setting()
    }

    /// Opens a transaction for `tenant`.
    ///
    /// One round trip: `BEGIN; SET LOCAL app.tenant_id = '<uuid>'` go in one
    /// message (the id is a UUID, so the literal cannot inject anything).
    /// Fails with [`TenantError::Inactive`](tenancy_core::TenantError) for a
    /// suspended tenant; a moving tenant's transaction is `READ ONLY` (its
    /// writes are frozen while its data moves).
    pub async fn begin(&self, tenant: &Tenant<K>) -> Result<TenantTx<K>> {
        let sql = self.binding.begin_sql(tenant)?;
        self.begin_sql(tenant, sql).await
    }

    /// [`begin`](TenantPool::begin) with other transaction options.
    pub async fn begin_with(&self, tenant: &Tenant<K>, options: &TxOptions) -> Result<TenantTx<K>> {
        let sql = self.binding.begin_sql_with(tenant, options)?;
        self.begin_sql(tenant, sql).await
    }

    /// Opens `tenant`'s transaction with `begin_sql` (its `BEGIN` message).
    async fn begin_sql(&self, tenant: &Tenant<K>, begin_sql: String) -> Result<TenantTx<K>> {
        TenantTx::begin(
            &self.pool,
            begin_sql,
            tenant.clone(),
            self.named_statements,
            self.meter.as_ref(),
        )
        .await
    }

    /// Opens a transaction for the current tenant of [`TenantContext`](tenancy_core::TenantContextOf);
    /// fails with [`TenantError::Missing`](tenancy_core::TenantError) outside
    /// a tenant scope.
    pub async fn begin_current(&self) -> Result<TenantTx<K>> {
        let tenant = TenantContextOf::<K>::current()?;
        self.begin(&tenant).await
    }

    /// Checks out a connection with the tenant set at **session** level: an
    /// escape hatch, named so. What you give up: the tenant outlives any one
    /// transaction, so behind a transaction-mode pooler (PgBouncer) another
    /// client's transaction may run with this tenant, and a session left
    /// unclosed keeps it; every query on the session needs no `BEGIN`.
    /// Read [`TenantSession`] first; prefer [`begin`](Self::begin).
    pub async fn dangerous_session(&self, tenant: &Tenant<K>) -> Result<TenantSession<K>> {
        tenant.ensure_active()?;
        TenantSession::start(&self.pool, self.binding.setting().clone(), tenant.clone()).await
    }

    /// Closes the pool: waits for checked-out connections to come back.
    pub async fn close(&self) {
        self.pool.close().await;
    }
}

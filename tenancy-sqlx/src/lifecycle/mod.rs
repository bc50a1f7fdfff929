//! Tenant lifecycle: create, suspend, delete and export, for tenants in
//! shared tables and in their own schemas alike.
//!
//! [`TenantLifecycle`] ties the tenant store, the application pool and the
//! schema provisioner together. The building blocks are public too:
//! [`TenantTables`] (tenant tables found in the catalog), [`delete_rows`]
//! and [`export_rows`].

mod erase;
mod export;
mod tables;

pub use erase::{DeletionReport, delete_rows};
pub use export::export_rows;
pub use tables::TenantTables;

use tenancy_core::uuid::Uuid;
use tenancy_core::{Tenant, TenantId, TenantStatus};
use tokio::io::AsyncWrite;

use crate::BeginTenantTx;
use crate::schemas::SchemaProvisioner;
use crate::{Error, PgTenantId, PgTenantStore, Result, TenantPool, TenantTx};

/// Creates, suspends, deletes and exports tenants.
///
/// - [`create`](Self::create): provisions the tenant's schema when its
///   placement names one, then adds it to the store.
/// - [`suspend`](Self::suspend): marks it suspended; `tenancy-tower`
///   answers 403 for it and no tenant transaction opens for it.
/// - [`delete`](Self::delete): every row in every tenant table (one
///   transaction), or its schema and schema role; then its store entry.
///   A dry run reports what would go, and changes nothing.
/// - [`export`](Self::export): every row as JSON lines, streamed.
///
/// ```
/// use tenancy_sqlx::lifecycle::TenantLifecycle;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
/// # let store = tenancy_sqlx::PgTenantStore::new(sqlx::PgPool::connect(db.owner_url()).await?);
/// # db.owner_sql(&store.create_table_sql())?;
/// # let pool = tenancy_sqlx::TenantPool::new(sqlx::PgPool::connect(db.app_url()).await?);
/// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
/// # store.insert(&acme, None).await?;
/// # let mut tx = pool.begin(&acme).await?;
/// # sqlx::query("INSERT INTO orders (item) VALUES ('Burger')").execute(&mut tx).await?;
/// # tx.commit().await?;
/// let lifecycle = TenantLifecycle::new(store, pool);
/// lifecycle.suspend(acme.id_ref()).await?;
/// let plan = lifecycle.delete(&acme, true).await?;
/// for (table, rows) in &plan.tables {
///     println!("would delete {rows} rows from {table}");
/// }
/// # assert_eq!(plan.tables, [("public.orders".to_owned(), 1)]);
/// lifecycle.delete(&acme, false).await?;
/// # Ok(()) }
/// ```
///
/// `K` is the type of the tenant ids; `P` a pool of tenants with such ids.
#[derive(Debug, Clone)]
pub struct TenantLifecycle<P = TenantPool, K = Uuid> {
    store: PgTenantStore<K>,
    pool: P,
    provisioner: Option<SchemaProvisioner>,
    #[cfg(feature = "sealed")]
    sealed: Option<crate::sealed::SealedProvisioner>,
    column: String,
}

impl<K: PgTenantId, P: BeginTenantTx<K>> TenantLifecycle<P, K> {
    /// Lifecycle of tenants in `store`, whose rows `pool` reaches: the
    /// application's [`TenantPool`], or a
    /// [`RoutedPool`](crate::routing::RoutedPool) for tenants spread over
    /// several targets (shards, a database per tenant), where rows are
    /// deleted and exported on each tenant's target (dropping a tenant's
    /// whole database is left to your infrastructure tooling: `DROP
    /// DATABASE` cannot run in a transaction). The store needs a pool that
    /// may write the tenants table.
    pub fn new(store: PgTenantStore<K>, pool: P) -> Self {
        Self {
            store,
            pool,
            provisioner: None,
            #[cfg(feature = "sealed")]
            sealed: None,
            column: "tenant_id".to_owned(),
        }
    }

    /// Provisions and drops tenant schemas with `provisioner`.
    #[must_use]
    pub fn with_schemas(mut self, provisioner: SchemaProvisioner) -> Self {
        self.provisioner = Some(provisioner);
        self
    }

    /// Creates and drops sealed tenants' login roles with `provisioner`:
    /// [`create`](Self::create) seals a tenant whose placement is
    /// [sealed](tenancy_core::Placement::sealed), and
    /// [`delete`](Self::delete) drops its role after its rows. Give the
    /// lifecycle a [`RoutedPool`](crate::routing::RoutedPool) with the same
    /// logins, so its rows are reached as the tenant.
    #[cfg(feature = "sealed")]
    #[must_use]
    pub fn with_sealed(mut self, provisioner: crate::sealed::SealedProvisioner) -> Self {
        self.sealed = Some(provisioner);
        self
    }

    /// The tenant column, when it is not `tenant_id`.
    #[must_use]
    pub fn with_tenant_column(mut self, column: &str) -> Self {
        column.clone_into(&mut self.column);
        self
    }

    /// Provisions the tenant's schema (if its placement names one) and
    /// adds the tenant to the store.
    pub async fn create(&self, tenant: &Tenant<K>, domain: Option<&str>) -> Result<()> {
        if let Some(schema) = tenant.placement().schema() {
            self.provisioner()?.provision(schema).await?;
        }
        if tenant.placement().is_sealed() {
            self.seal(tenant.id_ref()).await?;
        }
        self.store.insert(tenant, domain).await
    }

    #[cfg(feature = "sealed")]
    async fn seal(&self, id: &TenantId<K>) -> Result<()> {
        self.sealed_provisioner()?.seal(id).await.map(drop)
    }

    #[cfg(not(feature = "sealed"))]
    #[allow(clippy::unused_async)] // the same signature as with `sealed`
    async fn seal(&self, _: &TenantId<K>) -> Result<()> {
        Err(Error::Unsupported(
            "the tenant is sealed: enable tenancy-sqlx's feature `sealed`",
        ))
    }

    #[cfg(feature = "sealed")]
    fn sealed_provisioner(&self) -> Result<&crate::sealed::SealedProvisioner> {
        self.sealed.as_ref().ok_or(Error::Unsupported(
            "the tenant is sealed: give the lifecycle a SealedProvisioner (with_sealed)",
        ))
    }

    /// Suspends the tenant; returns whether it exists.
    pub async fn suspend(&self, id: &TenantId<K>) -> Result<bool> {
        self.store.set_status(id, TenantStatus::Suspended).await
    }

    /// Reactivates a suspended tenant; returns whether it exists.
    pub async fn reactivate(&self, id: &TenantId<K>) -> Result<bool> {
        self.store.set_status(id, TenantStatus::Active).await
    }

    /// Deletes the tenant's data and its store entry, or with `dry_run`
    /// reports the rows per table that would go. Works on suspended
    /// tenants (suspend first, so no request writes while it runs).
    ///
    /// The rows go through the tenant's own transaction, so only tables
    /// that transaction reaches are emptied. Tables of other roles keep
    /// their rows: tenancy-domains' custom domains, for one (remove them
    /// with `DomainStore::remove` first, as the admin portal does).
    pub async fn delete(&self, tenant: &Tenant<K>, dry_run: bool) -> Result<DeletionReport> {
        let mut tx = self.begin_even_if_suspended(tenant).await?;
        let report = delete_rows(&mut tx, &self.column, true).await?;
        if dry_run {
            tx.rollback().await?;
            return Ok(report);
        }
        let report = if let Some(schema) = tenant.placement().schema() {
            tx.rollback().await?;
            self.provisioner()?.drop_schema(schema).await?;
            DeletionReport {
                dry_run: false,
                ..report
            }
        } else {
            let report = delete_rows(&mut tx, &self.column, false).await?;
            tx.commit().await?;
            report
        };
        #[cfg(feature = "sealed")]
        if tenant.placement().is_sealed() {
            self.sealed_provisioner()?.unseal(tenant.id_ref()).await?;
        }
        self.store.remove(tenant.id_ref()).await?;
        Ok(report)
    }

    /// Writes all of the tenant's rows to `out` as JSON lines (see
    /// [`export_rows`]); works on suspended tenants.
    pub async fn export<W: AsyncWrite + Unpin>(
        &self,
        tenant: &Tenant<K>,
        out: W,
    ) -> Result<Vec<(String, u64)>> {
        let mut tx = self.begin_even_if_suspended(tenant).await?;
        let counts = export_rows(&mut tx, &self.column, out).await?;
        tx.rollback().await?;
        Ok(counts)
    }

    /// A transaction for `tenant`, also when it is suspended: that is how a
    /// suspended tenant is exported and deleted.
    async fn begin_even_if_suspended(&self, tenant: &Tenant<K>) -> Result<TenantTx<K>> {
        let tenant = tenant.to_builder().status(TenantStatus::Active).build();
        self.pool.begin(&tenant).await
    }

    fn provisioner(&self) -> Result<&SchemaProvisioner> {
        self.provisioner.as_ref().ok_or(Error::Unsupported(
            "the tenant has its own schema: give the lifecycle a SchemaProvisioner (with_schemas)",
        ))
    }
}

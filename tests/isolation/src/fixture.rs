//! The database every isolation test runs on.

use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tenancy_core::rls::TenantPolicy;
use tenancy_core::{Tenant, TenantId};
use tenancy_testing::{HarnessError, TestDatabase};

tenancy_sqlx::tenant_table!(
    /// The tortured table: one row per successful insert, tagged with the
    /// operation that wrote it.
    pub Orders = "orders"
);

/// A fresh database with `orders` under RLS and `n` tenants.
#[derive(Debug)]
pub struct World {
    /// The database (dropped with the world).
    pub db: TestDatabase,
    /// The tenants.
    pub tenants: Vec<Tenant>,
}

impl World {
    /// Creates the schema as the owner role.
    pub fn new(tenants: usize) -> Result<Self, HarnessError> {
        let db = tenancy_testing::PgServer::shared()?.create_database()?;
        let policy = TenantPolicy::new("orders").map_err(|e| HarnessError::Command {
            what: "policy".into(),
            output: e.to_string(),
        })?;
        db.owner_sql(&format!(
            "CREATE TABLE orders (
                 id uuid NOT NULL DEFAULT gen_random_uuid(),
                 {},
                 op uuid NOT NULL,
                 quantity integer NOT NULL DEFAULT 1,
                 PRIMARY KEY (tenant_id, id)
             );
             {}",
            policy.column_sql(),
            policy.enable_sql()
        ))?;
        // The torture's raw-SQL attack creates temporary tables: it tests the
        // walls behind the revoked `TEMPORARY` (the reset after raw SQL, and
        // temporary tables searched last), so it gives the privilege back.
        db.admin_sql(&format!(
            "GRANT TEMPORARY ON DATABASE {} TO {}",
            db.name(),
            tenancy_testing::APP_ROLE
        ))?;
        let tenants = (0..tenants)
            .map(|i| {
                let slug = format!("t{i}")
                    .parse()
                    .map_err(|e: tenancy_core::TenantError| HarnessError::Command {
                        what: "slug".into(),
                        output: e.to_string(),
                    })?;
                Ok(Tenant::builder(TenantId::new_v4(), slug).build())
            })
            .collect::<Result<_, HarnessError>>()?;
        Ok(Self { db, tenants })
    }

    /// Puts `orders` under the sealed tier as well and seals every other
    /// tenant (a login role each, its placement sealed): sealed and shared
    /// tenants side by side, as a mixed-tier deployment runs them.
    pub async fn seal_every_other(&mut self) -> Result<(), Box<dyn std::error::Error>> {
        use tenancy_core::rls::SealedSetup;
        use tenancy_sqlx::sealed::SealedProvisioner;
        let provisioner = SealedProvisioner::new(
            PgPool::connect(self.db.provisioner_url()).await?,
            sealed_logins(),
        );
        provisioner.ensure_group_role().await?;
        self.db.owner_sql(&format!(
            "{}{}",
            SealedSetup::new(tenancy_core::IdSqlType::Uuid)
                .manager(tenancy_testing::PROVISIONER_ROLE)?
                .table_sql(),
            TenantPolicy::new("orders")?.sealed_sql()
        ))?;
        for tenant in self.tenants.iter_mut().step_by(2) {
            provisioner.seal(tenant.id_ref()).await?;
            *tenant = tenant
                .to_builder()
                .settings(
                    tenant
                        .settings()
                        .clone()
                        .with_placement(tenancy_core::Placement::sealed()),
                )
                .build();
        }
        Ok(())
    }

    /// Switches row-level security off on `orders` (as its owner), to test
    /// the type-level wall alone.
    pub fn disable_rls(&self) -> Result<(), HarnessError> {
        let policy = TenantPolicy::new("orders").map_err(|e| HarnessError::Command {
            what: "policy".into(),
            output: e.to_string(),
        })?;
        self.db.owner_sql(&policy.disable_sql()).map(drop)
    }

    /// A pool of the app role at `url` (the database directly, or pgbouncer).
    /// The statement cache is off: pgbouncer 1.18 in transaction mode cannot
    /// keep named prepared statements.
    pub async fn app_pool(&self, url: &str, max_connections: u32) -> Result<PgPool, sqlx::Error> {
        let options: PgConnectOptions = url.parse()?;
        PgPoolOptions::new()
            .max_connections(max_connections)
            .acquire_timeout(std::time::Duration::from_secs(10))
            .connect_with(options.statement_cache_capacity(0))
            .await
    }

    /// A superuser pool on this database (for checks and for killing backends).
    pub async fn admin_pool(&self) -> Result<PgPool, sqlx::Error> {
        PgPoolOptions::new()
            .max_connections(2)
            .connect(self.db.admin_url())
            .await
    }
}

/// The credentials of the sealed tenants of [`World::seal_every_other`].
pub fn sealed_logins() -> tenancy_sqlx::sealed::SealedLogins {
    // A fixed test secret: 32 bytes, never used outside the throwaway
    // clusters of the tests.
    tenancy_sqlx::sealed::SealedLogins::new("torture", b"torture-secret-of-thirty-two-by!")
        .unwrap_or_else(|err| unreachable!("a 32-byte secret is accepted: {err}"))
}

/// One routed pool for a world after [`World::seal_every_other`]: shared
/// tenants on the app role's pool (`max_connections`), each sealed tenant
/// on a pool of one connection of its own, fewer open pools than sealed
/// tenants (so idle ones are closed and reopened during the run).
pub fn mixed_tier_pool(
    world: &World,
    max_connections: u32,
) -> Result<tenancy_sqlx::routing::RoutedPool, Box<dyn std::error::Error>> {
    use tenancy_sqlx::routing::{PlacementRouter, RoutedPool};
    let main = tenancy_core::TargetName::new("main")?;
    let sealed = world
        .tenants
        .iter()
        .filter(|t| t.placement().is_sealed())
        .count();
    Ok(
        RoutedPool::builder(PlacementRouter::new().with_default(main.clone()))
            .target(main, world.db.app_url().parse()?)
            .pool_options(PgPoolOptions::new().max_connections(max_connections))
            .sealed_logins(sealed_logins())
            .sealed_pool_options(
                PgPoolOptions::new()
                    .max_connections(1)
                    .acquire_timeout(std::time::Duration::from_secs(10)),
            )
            .max_open_pools(sealed.max(2))
            .build(),
    )
}

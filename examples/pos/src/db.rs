//! The database: embedded or `DATABASE_URL`, migrations with the generated
//! RLS policies, seed tenants, and the unprivileged runtime role.

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::{AssertSqlSafe, PgPool};
use tenancy_core::rls::TenantPolicy;
use tenancy_core::{
    Placement, SchemaName, Tenant, TenantId, TenantLimits, TenantSettings, TenantStoreExt,
};
use tenancy_sqlx::PgTenantStore;
use tenancy_sqlx::schemas::{Migrations, SchemaProvisioner};
use tenancy_testing::PgCluster;

use crate::error::SetupError;

/// The login role requests are served through.
pub const RUNTIME_ROLE: &str = "pos_app";

/// The role of the staff's admin portal (`/admin`): it writes the tenant
/// directory and nothing else; tenants' rows are reached through the
/// runtime role's tenant transactions.
pub const STAFF_ROLE: &str = "pos_staff";

/// The login role of the job queue (producers and workers): it may use the
/// queue's tables, which hold every tenant's jobs, and nothing else.
/// Requests are never served through it, and the runtime role cannot read
/// the queue.
pub const JOBS_ROLE: &str = "pos_jobs";

/// The seed tenants: slug, display name, plan, requests per second, burst.
pub const SEED_TENANTS: [(&str, &str, &str, u32, u32); 3] = [
    ("acme", "Acme Diner (restaurant)", "pro", 200, 400),
    (
        "globex",
        "Globex Burgers (fast-food chain)",
        "pro",
        200,
        400,
    ),
    ("tiny", "Tiny Café (trial plan)", "trial", 1, 3),
];

/// How tenants' orders are kept apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// One `orders` table for all tenants, under row-level security.
    #[default]
    SharedSchema,
    /// An `orders` table in each tenant's own schema (same migration, run
    /// per schema), reached through the schema's own role.
    SchemaPerTenant,
}

impl std::str::FromStr for Mode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "shared" => Ok(Self::SharedSchema),
            "schema" => Ok(Self::SchemaPerTenant),
            other => Err(format!("unknown mode {other:?}: use shared or schema")),
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::SharedSchema => "shared schema with row-level security",
            Self::SchemaPerTenant => "schema per tenant",
        })
    }
}

/// The migration: the tenant directory, the orders and sales reports
/// tables under RLS (shared-schema mode).
pub fn migration_sql(store: &PgTenantStore) -> Result<String, SetupError> {
    Ok(format!(
        "{}{}{}",
        store.create_table_sql(),
        orders_sql()?,
        sales_reports_sql()?
    ))
}

/// The orders table with the tenant column and its policy. The same SQL
/// in `public` (shared schema) and in each tenant schema.
pub fn orders_sql() -> Result<String, SetupError> {
    let orders = TenantPolicy::new("orders").map_err(tenancy_sqlx::Error::from)?;
    Ok(format!(
        "
CREATE TABLE IF NOT EXISTS orders (
    id uuid NOT NULL DEFAULT gen_random_uuid(),
    {tenant_column} REFERENCES public.tenancy_tenants (id),
    item text NOT NULL CHECK (length(item) BETWEEN 1 AND 200),
    quantity integer NOT NULL CHECK (quantity BETWEEN 1 AND 1000),
    total_cents bigint NOT NULL CHECK (total_cents >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, id)
);
{policy}",
        tenant_column = orders.column_sql(),
        policy = orders.enable_sql(),
    ))
}

/// The nightly sales reports, one row per tenant and night, written by the
/// nightly job through the scoped builders. The same SQL in `public`
/// (shared schema) and in each tenant schema.
pub fn sales_reports_sql() -> Result<String, SetupError> {
    let reports = TenantPolicy::new("sales_reports").map_err(tenancy_sqlx::Error::from)?;
    Ok(format!(
        "
CREATE TABLE IF NOT EXISTS sales_reports (
    night text NOT NULL,
    {tenant_column} REFERENCES public.tenancy_tenants (id),
    orders bigint NOT NULL,
    total_cents bigint NOT NULL,
    PRIMARY KEY (tenant_id, night)
);
{policy}",
        tenant_column = reports.column_sql(),
        policy = reports.enable_sql(),
    ))
}

/// A ready database: pools for the administrator (migrations, seeding,
/// demo checks) and for the runtime role (every request).
#[derive(Debug)]
pub struct Database {
    /// The administrator pool. Never used to serve requests.
    pub admin: PgPool,
    /// The runtime pool: `pos_app`, not superuser, not owner, no BYPASSRLS.
    pub runtime: PgPool,
    /// The admin portal's pool: `pos_staff`, which writes the tenant
    /// directory only. Connects on first use.
    pub staff: PgPool,
    /// The seed tenants, by slug.
    pub tenants: Vec<Tenant>,
    /// Where it runs, for people: "embedded on port N" or the URL's host.
    pub description: String,
    /// How tenants' orders are kept apart.
    pub mode: Mode,
    /// The embedded cluster, stopped when the database is dropped.
    cluster: Option<PgCluster>,
}

impl Database {
    /// `DATABASE_URL` if set, otherwise an embedded throwaway cluster.
    pub async fn from_env_or_embedded(mode: Mode) -> Result<Self, SetupError> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => Self::connect_in(&url, None, mode).await,
            _ => Self::embedded(mode).await,
        }
    }

    /// Starts a throwaway PostgreSQL (about a second) and sets it up.
    pub async fn embedded(mode: Mode) -> Result<Self, SetupError> {
        let cluster = tokio::task::spawn_blocking(PgCluster::start)
            .await
            .map_err(|e| SetupError::Database(sqlx::Error::Io(std::io::Error::other(e))))??;
        let url = cluster.superuser_url("postgres");
        Self::connect_in(&url, Some(cluster), mode).await
    }

    /// [`connect_in`](Self::connect_in) in shared-schema mode.
    pub async fn connect(admin_url: &str, cluster: Option<PgCluster>) -> Result<Self, SetupError> {
        Self::connect_in(admin_url, cluster, Mode::SharedSchema).await
    }

    /// Sets up the database at `admin_url` (may be a superuser): runs the
    /// migration (in `public`, or in a schema per seed tenant), creates the
    /// runtime role if missing, seeds the tenants, and refuses to go on if
    /// the runtime role could bypass RLS.
    pub async fn connect_in(
        admin_url: &str,
        cluster: Option<PgCluster>,
        mode: Mode,
    ) -> Result<Self, SetupError> {
        let admin_options: PgConnectOptions = admin_url.parse()?;
        let description = match &cluster {
            Some(c) => format!("embedded PostgreSQL on 127.0.0.1:{}", c.port()),
            None => format!(
                "PostgreSQL at {}:{}",
                admin_options.get_host(),
                admin_options.get_port()
            ),
        };
        let admin = PgPoolOptions::new()
            .max_connections(4)
            .connect_with(admin_options.clone())
            .await?;
        let directory = PgTenantStore::new(admin.clone());
        let migration = match mode {
            Mode::SharedSchema => migration_sql(&directory)?,
            Mode::SchemaPerTenant => directory.create_table_sql(),
        };
        sqlx::raw_sql(AssertSqlSafe(migration))
            .execute(&admin)
            .await?;

        let password = role_password();
        let quoted = password.replace('\'', "''");
        sqlx::raw_sql(AssertSqlSafe(format!(
            "DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{RUNTIME_ROLE}') THEN
                    CREATE ROLE {RUNTIME_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
                END IF;
                -- Tenant schema roles' privileges only inside their transactions.
                ALTER ROLE {RUNTIME_ROLE} NOINHERIT;
                EXECUTE format('GRANT CONNECT ON DATABASE %I TO {RUNTIME_ROLE}', current_database());
                -- No temporary tables: one named like a tenant table would
                -- shadow it (tenancy_core::rls::revoke_temporary_sql).
                EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC, {RUNTIME_ROLE}', current_database());
            END $$;
            ALTER ROLE {RUNTIME_ROLE} PASSWORD '{quoted}';
            GRANT USAGE ON SCHEMA public TO {RUNTIME_ROLE};
            GRANT SELECT ON tenancy_tenants TO {RUNTIME_ROLE};"
        )))
        .execute(&admin)
        .await?;
        if mode == Mode::SharedSchema {
            sqlx::raw_sql(AssertSqlSafe(format!(
                "GRANT SELECT, INSERT, UPDATE, DELETE ON orders, sales_reports TO {RUNTIME_ROLE};"
            )))
            .execute(&admin)
            .await?;
        }

        jobs_queue(&admin, &quoted).await?;
        staff_role(&admin, &quoted).await?;

        let tenants = seed(&directory, mode).await?;
        let provisioner = SchemaProvisioner::new(
            admin.clone(),
            Migrations::new().add(1, "orders", &orders_sql()?)?.add(
                2,
                "sales_reports",
                &sales_reports_sql()?,
            )?,
        )
        .grant_to(RUNTIME_ROLE)?;
        for schema in tenants.iter().filter_map(|t| t.placement().schema()) {
            provisioner.provision(schema).await?;
        }
        let runtime = PgPoolOptions::new()
            .max_connections(16)
            .connect_with(
                admin_options
                    .clone()
                    .username(RUNTIME_ROLE)
                    .password(&password),
            )
            .await?;
        check_runtime_role(&runtime).await?;
        // Connects when the portal is first used, and lets go when idle.
        let staff = PgPoolOptions::new()
            .max_connections(2)
            .min_connections(0)
            .idle_timeout(std::time::Duration::from_mins(1))
            .connect_lazy_with(admin_options.username(STAFF_ROLE).password(&password));
        Ok(Self {
            admin,
            runtime,
            staff,
            tenants,
            description,
            mode,
            cluster,
        })
    }

    /// Closes the administrator pool: while serving, every connection the
    /// process holds is the runtime role's (not a superuser, no
    /// `BYPASSRLS`, owns no table), the tenant directory included.
    /// [`count_all_orders`](Self::count_all_orders) fails afterwards.
    pub async fn close_admin(&self) {
        self.admin.close().await;
    }

    /// The seed tenant with this slug.
    pub fn tenant(&self, slug: &str) -> Option<&Tenant> {
        self.tenants.iter().find(|t| t.slug().as_str() == slug)
    }

    /// Orders over all tenants, wherever they are kept (counted as the
    /// administrator, for the demo's checks).
    pub async fn count_all_orders(&self) -> Result<i64, sqlx::Error> {
        self.count_everywhere("orders", "true", "").await
    }

    /// Sales reports of `night` over all tenants, wherever they are kept.
    pub async fn count_reports(&self, night: &str) -> Result<i64, sqlx::Error> {
        self.count_everywhere("sales_reports", "night = $1", night)
            .await
    }

    /// Rows of `table` where `condition` holds (`$1` is `arg`), in every
    /// schema that has the table (counted as the administrator).
    async fn count_everywhere(
        &self,
        table: &str,
        condition: &str,
        arg: &str,
    ) -> Result<i64, sqlx::Error> {
        let schemas: Vec<String> = sqlx::query_scalar(
            "SELECT n.nspname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relname = $1 AND c.relkind = 'r'",
        )
        .bind(table)
        .fetch_all(&self.admin)
        .await?;
        let mut total = 0;
        for schema in schemas {
            let sql = format!(
                "SELECT count(*) FROM \"{}\".{table} WHERE {condition}",
                schema.replace('"', "\"\"")
            );
            let query = sqlx::query_scalar(AssertSqlSafe(sql));
            let query = if condition.contains("$1") {
                query.bind(arg)
            } else {
                query
            };
            let n: i64 = query.fetch_one(&self.admin).await?;
            total += n;
        }
        Ok(total)
    }

    /// Closes the pools and stops the embedded cluster, if any.
    pub async fn shutdown(self) {
        self.runtime.close().await;
        self.admin.close().await;
        if let Some(cluster) = self.cluster {
            let _ = tokio::task::spawn_blocking(move || cluster.stop()).await;
        }
    }
}

/// The password of the demo's login roles: `POS_APP_PASSWORD`, or a demo
/// default.
pub(crate) fn role_password() -> String {
    std::env::var("POS_APP_PASSWORD").unwrap_or_else(|_| "pos_app_demo".to_owned())
}

/// The job queue: apalis's tables, the index that makes fair enqueueing
/// fast, and the queue's own role (with the runtime role's password).
async fn jobs_queue(admin: &PgPool, quoted_password: &str) -> Result<(), SetupError> {
    apalis_postgres::PostgresStorage::setup(admin).await?;
    tenancy_jobs::TenantQueues::setup(admin).await?;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DO $$ BEGIN
            IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{JOBS_ROLE}') THEN
                CREATE ROLE {JOBS_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
            END IF;
            EXECUTE format('GRANT CONNECT ON DATABASE %I TO {JOBS_ROLE}', current_database());
        END $$;
        ALTER ROLE {JOBS_ROLE} PASSWORD '{quoted_password}';
        GRANT USAGE ON SCHEMA apalis TO {JOBS_ROLE};
        GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA apalis TO {JOBS_ROLE};
        GRANT EXECUTE ON ALL FUNCTIONS IN SCHEMA apalis TO {JOBS_ROLE};"
    )))
    .execute(admin)
    .await?;
    Ok(())
}

/// Inserts the seed tenants that do not exist yet; returns all of them.
async fn seed(store: &PgTenantStore, mode: Mode) -> Result<Vec<Tenant>, SetupError> {
    let mut tenants = Vec::new();
    for (slug, name, plan, rate, burst) in SEED_TENANTS {
        let slug = slug.parse().map_err(tenancy_sqlx::Error::from)?;
        let existing = store
            .by_slug(&slug)
            .await
            .map_err(|e| sqlx::Error::Protocol(e.to_string()))?;
        let tenant = if let Some(existing) = existing {
            existing
        } else {
            let limits = TenantLimits::none()
                .with_requests_per_second(rate)
                .with_burst(burst);
            let id = TenantId::new_v4();
            let placement = match mode {
                Mode::SharedSchema => Placement::shared(),
                Mode::SchemaPerTenant => {
                    Placement::shared().with_schema(SchemaName::for_tenant(&id))
                }
            };
            let tenant = Tenant::builder(id, slug)
                .name(name)
                .settings(
                    TenantSettings::default()
                        .with_plan(plan)
                        .with_limits(limits)
                        .with_placement(placement),
                )
                .build();
            store.insert(&tenant, None).await?;
            tenant
        };
        tenants.push(tenant);
    }
    Ok(tenants)
}

/// Refuses a runtime role that would bypass RLS, and a table without
/// forced RLS.
async fn check_runtime_role(runtime: &PgPool) -> Result<(), SetupError> {
    let (role, superuser, bypass, owns): (String, bool, bool, bool) = sqlx::query_as(
        "SELECT current_user::text, r.rolsuper, r.rolbypassrls,
                EXISTS (SELECT FROM pg_class c WHERE c.relowner = r.oid AND c.relname = 'orders')
         FROM pg_roles r WHERE r.rolname = current_user",
    )
    .fetch_one(runtime)
    .await?;
    let why = if superuser {
        Some("is a superuser")
    } else if bypass {
        Some("has BYPASSRLS")
    } else if owns {
        Some("owns the orders table")
    } else {
        None
    };
    if let Some(why) = why {
        return Err(SetupError::UnsafeRuntimeRole { role, why });
    }
    // Every orders table: the shared one, or one per tenant schema.
    let forced: bool = sqlx::query_scalar(
        "SELECT coalesce(bool_and(relrowsecurity AND relforcerowsecurity), false)
         FROM pg_class WHERE relname = 'orders' AND relkind = 'r'",
    )
    .fetch_one(runtime)
    .await?;
    if !forced {
        return Err(SetupError::RlsNotForced);
    }
    Ok(())
}

/// The admin portal's role: it may write the tenant directory, nothing
/// else, with the same password as the runtime role.
async fn staff_role(admin: &PgPool, quoted_password: &str) -> Result<(), SetupError> {
    let quoted = quoted_password;
    sqlx::raw_sql(AssertSqlSafe(format!(
        "DO $$ BEGIN
                IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{STAFF_ROLE}') THEN
                    CREATE ROLE {STAFF_ROLE} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
                END IF;
                EXECUTE format('GRANT CONNECT ON DATABASE %I TO {STAFF_ROLE}', current_database());
            END $$;
            ALTER ROLE {STAFF_ROLE} PASSWORD '{quoted}';
            GRANT USAGE ON SCHEMA public TO {STAFF_ROLE};
            GRANT SELECT, INSERT, UPDATE, DELETE ON tenancy_tenants TO {STAFF_ROLE};"
    )))
    .execute(admin)
    .await?;
    Ok(())
}

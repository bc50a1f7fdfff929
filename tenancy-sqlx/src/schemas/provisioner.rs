//! [`SchemaProvisioner`]: creates tenant schemas and keeps them migrated.

use std::sync::Arc;

use futures_util::StreamExt as _;
use sqlx::{AssertSqlSafe, PgPool};
use tenancy_core::SchemaName;
use tenancy_core::rls::Ident;

use super::Migrations;
use crate::{Error, Result};

/// The table in each tenant schema that records applied migrations.
use crate::MIGRATIONS_TABLE as TRACKING_TABLE;

/// Creates tenant schemas and runs the application's [`Migrations`] in them.
///
/// Give it a pool of a **provisioning role**: one that may create schemas
/// in the database (`GRANT CREATE ON DATABASE`) and roles (`CREATEROLE`),
/// and that will own the tenant tables. Never the application role.
///
/// [`provision`](Self::provision) makes, in one transaction:
///
/// - the schema;
/// - a role **of the same name** (`NOLOGIN`) that may use the schema and
///   read and write its tables, and nothing else. Tenant transactions switch
///   to it with `SET LOCAL ROLE` (see
///   [`TenantBinding`](tenancy_core::rls::TenantBinding)), so even a query
///   that names another tenant's schema outright (`SELECT * FROM
///   tenant_b.orders`) is refused by PostgreSQL: the database layer holds
///   without the `search_path` that the application layer relies on;
/// - membership of the application role in that role ([`grant_to`](Self::grant_to)).
///
/// then runs the migrations. [`migrate_all`](Self::migrate_all) brings many
/// schemas up to date, a few at a time, and reports failures per schema
/// without stopping the others. Each migration commits on its own and is
/// recorded in the schema's `_tenancy_migrations` table, so a run that
/// stopped half way resumes where it stopped.
///
/// ```
/// use tenancy_core::SchemaName;
/// use tenancy_sqlx::schemas::{Migrations, SchemaProvisioner};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # let admin = sqlx::PgPool::connect(db.provisioner_url()).await?; // may create schemas and roles
/// # let id = tenancy_core::TenantId::new_v4();
/// # let app_role = tenancy_testing::APP_ROLE;
/// # let dir = std::env::temp_dir().join(format!("tenancy-doc-migrations-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// # std::fs::write(dir.join("1_orders.sql"), "CREATE TABLE orders (id int PRIMARY KEY)")?;
/// let provisioner = SchemaProvisioner::new(admin, Migrations::from_dir(&dir)?)
///     .grant_to(app_role)?;
/// let schema = SchemaName::for_tenant(&id);
/// provisioner.provision(&schema).await?;
/// let report = provisioner
///     .migrate_all([schema], 4, |p| eprintln!("[{}/{}] {}", p.done, p.total, p.schema))
///     .await;
/// assert!(report.failed.is_empty());
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct SchemaProvisioner {
    pool: PgPool,
    migrations: Arc<Migrations>,
    app_role: Option<Ident>,
}

/// One schema finished during [`SchemaProvisioner::migrate_all`].
#[derive(Debug)]
#[non_exhaustive]
pub struct MigrationProgress<'a> {
    /// Schemas finished so far, this one included.
    pub done: usize,
    /// Schemas in the run.
    pub total: usize,
    /// The schema.
    pub schema: &'a SchemaName,
    /// The versions applied to it now (empty: it was up to date), or why it
    /// failed.
    pub outcome: &'a Result<Vec<i64>>,
}

/// What [`SchemaProvisioner::migrate_all`] did.
#[derive(Debug, Default)]
#[non_exhaustive]
pub struct MigrationReport {
    /// Schemas that had migrations applied, with the versions.
    pub migrated: Vec<(SchemaName, Vec<i64>)>,
    /// Schemas that were already up to date.
    pub up_to_date: Vec<SchemaName>,
    /// Schemas that failed, with the error; the others went on.
    pub failed: Vec<(SchemaName, Error)>,
}

impl SchemaProvisioner {
    /// A provisioner that runs `migrations` with `pool` (a provisioning
    /// role, see above).
    pub fn new(pool: PgPool, migrations: Migrations) -> Self {
        Self {
            pool,
            migrations: Arc::new(migrations),
            app_role: None,
        }
    }

    /// Makes `app_role` a member of every provisioned tenant role, so the
    /// application can `SET LOCAL ROLE` to it. Give the application role
    /// `NOINHERIT`, so it holds the tenants' privileges only inside their
    /// transactions.
    pub fn grant_to(mut self, app_role: &str) -> Result<Self> {
        self.app_role = Some(Ident::new(app_role)?);
        Ok(self)
    }

    /// Creates the schema, its role and its migration table if they do not
    /// exist, then applies the missing migrations. Returns the versions
    /// applied. Running it again is harmless.
    pub async fn provision(&self, schema: &SchemaName) -> Result<Vec<i64>> {
        // The tracking table first: the default privileges that follow must
        // not give the tenant role write access to it.
        let sql = format!(
            "CREATE SCHEMA IF NOT EXISTS {s};
             CREATE TABLE IF NOT EXISTS {s}.{TRACKING_TABLE} (
                 version bigint PRIMARY KEY,
                 description text NOT NULL,
                 applied_at timestamptz NOT NULL DEFAULT now()
             );
             {provision}",
            s = schema.sql(),
            provision = schema.provision_sql(self.app_role.as_ref()),
        );
        let mut tx = self.pool.begin().await?;
        // Two provisioners of one schema at once would race on CREATE ROLE.
        lock_schema(&mut tx, schema).await?;
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await?;
        tx.commit().await?;
        self.migrate(schema).await
    }

    /// Applies the migrations that `schema` has not had yet, each in its own
    /// transaction, and returns their versions.
    pub async fn migrate(&self, schema: &SchemaName) -> Result<Vec<i64>> {
        if self.up_to_date(schema).await {
            return Ok(Vec::new());
        }
        let mut applied = Vec::new();
        for migration in self.migrations.iter() {
            let failed = |source| Error::Migration {
                schema: schema.clone(),
                version: migration.version,
                source,
            };
            let mut tx = self.pool.begin().await.map_err(failed)?;
            lock_schema(&mut tx, schema).await.map_err(failed)?;
            let done: bool = sqlx::query_scalar(AssertSqlSafe(format!(
                "SELECT EXISTS (SELECT 1 FROM {}.{TRACKING_TABLE} WHERE version = $1)",
                schema.sql()
            )))
            .bind(migration.version)
            .fetch_one(&mut *tx)
            .await
            .map_err(failed)?;
            if done {
                continue;
            }
            let sql = format!(
                "SET LOCAL search_path = {};\n{}",
                schema.sql(),
                migration.sql
            );
            sqlx::raw_sql(AssertSqlSafe(sql))
                .execute(&mut *tx)
                .await
                .map_err(failed)?;
            sqlx::query(AssertSqlSafe(format!(
                "INSERT INTO {}.{TRACKING_TABLE} (version, description) VALUES ($1, $2)",
                schema.sql()
            )))
            .bind(migration.version)
            .bind(&migration.description)
            .execute(&mut *tx)
            .await
            .map_err(failed)?;
            tx.commit().await.map_err(failed)?;
            applied.push(migration.version);
        }
        Ok(applied)
    }

    /// Whether `schema` records every migration: one query, no lock, so
    /// that a no-op run over many schemas costs one round trip each.
    /// Versions are only ever added, so "all applied" cannot turn false
    /// behind this check; any error (no such schema) takes the locked way,
    /// which reports it.
    async fn up_to_date(&self, schema: &SchemaName) -> bool {
        let applied: Vec<i64> = match sqlx::query_scalar(AssertSqlSafe(format!(
            "SELECT version FROM {}.{TRACKING_TABLE}",
            schema.sql()
        )))
        .fetch_all(&self.pool)
        .await
        {
            Ok(applied) => applied,
            Err(_) => return false,
        };
        self.migrations
            .iter()
            .all(|migration| applied.contains(&migration.version))
    }

    /// Migrates every schema in `schemas`, `concurrency` at a time, calling
    /// `on_progress` as each one finishes. A failing schema is reported and
    /// the others go on; run it again to resume.
    pub async fn migrate_all(
        &self,
        schemas: impl IntoIterator<Item = SchemaName>,
        concurrency: usize,
        mut on_progress: impl FnMut(MigrationProgress<'_>),
    ) -> MigrationReport {
        let schemas: Vec<SchemaName> = schemas.into_iter().collect();
        let total = schemas.len();
        let mut runs = futures_util::stream::iter(schemas)
            .map(|schema| async move {
                let outcome = self.migrate(&schema).await;
                (schema, outcome)
            })
            .buffer_unordered(concurrency.max(1));
        let mut report = MigrationReport::default();
        let mut done = 0;
        while let Some((schema, outcome)) = runs.next().await {
            done += 1;
            on_progress(MigrationProgress {
                done,
                total,
                schema: &schema,
                outcome: &outcome,
            });
            match outcome {
                Ok(versions) if versions.is_empty() => report.up_to_date.push(schema),
                Ok(versions) => report.migrated.push((schema, versions)),
                Err(err) => report.failed.push((schema, err)),
            }
        }
        report
    }

    /// Drops the schema with everything in it, and its role, in one
    /// transaction. The tenant's data is gone after this: export first.
    pub async fn drop_schema(&self, schema: &SchemaName) -> Result<()> {
        let mut tx = self.pool.begin().await?;
        lock_schema(&mut tx, schema).await?;
        let s = schema.sql();
        let sql = format!(
            "DROP SCHEMA IF EXISTS {s} CASCADE;
             DO $$ BEGIN DROP ROLE {s}; EXCEPTION WHEN undefined_object THEN NULL; END $$;"
        );
        sqlx::raw_sql(AssertSqlSafe(sql)).execute(&mut *tx).await?;
        tx.commit().await?;
        Ok(())
    }
}

/// Serializes work on one schema across processes, until the transaction ends.
async fn lock_schema(
    tx: &mut sqlx::Transaction<'_, sqlx::Postgres>,
    schema: &SchemaName,
) -> Result<(), sqlx::Error> {
    sqlx::query("SELECT pg_advisory_xact_lock(hashtext('tenancy schema ' || $1))")
        .bind(schema.as_str())
        .execute(&mut **tx)
        .await?;
    Ok(())
}

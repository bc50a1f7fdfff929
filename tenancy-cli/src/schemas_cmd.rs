//! `tenancy schemas migrate`: run migrations in every tenant schema.

use std::process::ExitCode;

use clap::{Args, Subcommand};
use sqlx::postgres::PgPoolOptions;
use tenancy_sqlx::PgTenantStore;
use tenancy_sqlx::schemas::{Migrations, SchemaProvisioner};

use crate::progress::Steps;

/// Tenant schemas (schema-per-tenant mode).
#[derive(Debug, Subcommand)]
pub(crate) enum SchemasCommand {
    Migrate(MigrateArgs),
}

/// Migrates every tenant schema.
///
/// Applies pending migrations to every tenant schema listed in the tenants
/// table, each in its own transaction. A schema that fails is reported and
/// rolled back; the others go on. Run it again to resume.
#[derive(Debug, Args)]
pub(crate) struct MigrateArgs {
    /// The database, as a role that may create schemas and tables.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The migrations: files named `<version>_<description>.sql`.
    #[arg(long, value_name = "DIR")]
    migrations: String,
    /// The tenants table.
    #[arg(long, value_name = "NAME", default_value = "tenancy_tenants")]
    tenants_table: String,
    /// Schemas migrated at once.
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    concurrency: u16,
    /// One JSON object per schema, then a summary object (JSON Lines).
    #[arg(long)]
    json: bool,
}

/// Runs `tenancy schemas migrate`.
pub(crate) async fn run(args: MigrateArgs) -> ExitCode {
    let concurrency = usize::from(args.concurrency);
    let setup = async {
        let migrations = Migrations::from_dir(&args.migrations)?;
        let pool = PgPoolOptions::new()
            .max_connections(u32::from(args.concurrency))
            .connect(&args.database_url)
            .await?;
        let schemas = PgTenantStore::new(pool.clone())
            .with_table(&args.tenants_table)?
            .schema_names()
            .await?;
        Ok::<_, tenancy_sqlx::Error>((SchemaProvisioner::new(pool, migrations), schemas))
    };
    let (provisioner, schemas) = match setup.await {
        Ok(setup) => setup,
        Err(err) => return crate::unavailable("schemas migrate", err),
    };
    let started = std::time::Instant::now();
    let mut steps = Steps::new(args.json);
    let report = provisioner
        .migrate_all(schemas, concurrency, |p| {
            let (outcome, json) = match p.outcome {
                Ok(v) if v.is_empty() => (
                    "up to date".to_owned(),
                    serde_json::json!({"status": "up_to_date"}),
                ),
                Ok(v) => (
                    format!("applied {v:?}"),
                    serde_json::json!({"status": "migrated", "applied": v}),
                ),
                Err(err) => (
                    format!("FAILED: {err}"),
                    serde_json::json!({"status": "failed", "error": err.to_string()}),
                ),
            };
            let mut json = json;
            json["schema"] = p.schema.as_str().into();
            json["done"] = p.done.into();
            json["total"] = p.total.into();
            steps.step(
                p.done,
                p.total,
                p.schema.as_str(),
                &outcome,
                &json,
                p.outcome.is_err(),
            );
        })
        .await;
    steps.finish();
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "summary": {
                    "migrated": report.migrated.len(),
                    "up_to_date": report.up_to_date.len(),
                    "failed": report.failed.len(),
                    "seconds": seconds,
                }
            })
        );
    } else {
        println!(
            "{} migrated, {} up to date, {} failed in {seconds:.1} s",
            report.migrated.len(),
            report.up_to_date.len(),
            report.failed.len(),
        );
    }
    if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

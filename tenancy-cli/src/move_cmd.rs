//! `tenancy move`: move one tenant's data to another tier while its
//! traffic runs (shared tables, its own schema, a database of its own).

use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tenancy_core::{Placement, SchemaName, TargetName, Tenant, TenantId, TenantStoreExt};
use tenancy_sqlx::PgTenantStore;
use tenancy_sqlx::moves::TenantMover;
use tenancy_sqlx::routing::{PlacementRouter, RoutedPool};
use tenancy_sqlx::schemas::{Migrations, SchemaProvisioner};

/// The default target's name: where `--database-url` points.
const MAIN: &str = "main";

/// Moves one tenant's data to another tier while its traffic runs.
///
/// Freezes the tenant's writes (its status becomes `moving`: tenancy-tower
/// answers writes with 503 and Retry-After), waits `--drain` for every
/// process's tenant cache to see it, copies its rows in one snapshot,
/// verifies row counts and checksums per table on both sides, switches its
/// placement in the tenants table, restores its status, and after
/// another `--drain` deletes the old copy. On a failure before the switch
/// the tenant stays where it was, with its status (exit 1); an old copy
/// that cannot be deleted after the switch is reported (exit 1 too).
#[derive(Debug, Args)]
pub(crate) struct MoveArgs {
    /// The database with the tenants table and the shared tables (the
    /// target `main`), as a role that may update the tenants table and
    /// read and write the tenant tables (under row-level security).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The tenant: its id or slug.
    #[arg(long, value_name = "ID|SLUG")]
    tenant: String,
    /// Where to: `shared` (the shared tables of `main`), `schema` (a
    /// schema of its own in `main`), or `target:NAME` (the shared tables
    /// of the database `--target NAME=URL`).
    #[arg(long, value_name = "shared|schema|target:NAME")]
    to: String,
    /// Another database or server the tenant may live on (repeatable).
    #[arg(long = "target", value_name = "NAME=URL")]
    targets: Vec<String>,
    /// Migrations for a new schema (`--to schema`): files named
    /// `<version>_<description>.sql`.
    #[arg(long, value_name = "DIR")]
    migrations: Option<String>,
    /// A role that may create schemas and roles, for `--to schema` and
    /// moves out of a schema; defaults to `--database-url`.
    #[arg(long, value_name = "URL", hide_env_values = true)]
    provisioner_url: Option<String>,
    /// Seconds to wait after a status change: the longest time a process
    /// caches a tenant (tenancy's `CachedTenantStore` keeps one 60 s).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    drain: u64,
    /// The tenants table.
    #[arg(long, value_name = "NAME", default_value = "tenancy_tenants")]
    tenants_table: String,
    /// The tenant column of the tenant tables.
    #[arg(long, value_name = "NAME", default_value = "tenant_id")]
    tenant_column: String,
    /// One JSON object with what was moved.
    #[arg(long)]
    json: bool,
}

/// Why the move did not start: printed, exit code 2.
struct Refused(String);

impl<E: std::fmt::Display> From<E> for Refused {
    fn from(err: E) -> Self {
        Self(err.to_string())
    }
}

/// Runs `tenancy move`.
pub(crate) async fn run(args: MoveArgs) -> ExitCode {
    let (mover, tenant, to) = match setup(&args).await {
        Ok(setup) => setup,
        Err(Refused(why)) => return crate::unavailable("move", why),
    };
    let from = tenant.placement().clone();
    if !args.json {
        eprintln!(
            "moving {} from {} to {}: writes frozen for the copy, {} s drain before and after",
            tenant.slug(),
            describe(&from),
            describe(&to),
            args.drain
        );
    }
    match mover.move_to(&tenant, to.clone()).await {
        Ok(report) => {
            if args.json {
                let tables: Vec<_> = report
                    .tables
                    .iter()
                    .map(|t| serde_json::json!({"table": t.table, "rows": t.rows, "checksum": t.checksum}))
                    .collect();
                println!(
                    "{}",
                    serde_json::json!({
                        "tenant": tenant.id().to_string(),
                        "from": describe(&from),
                        "to": describe(&to),
                        "tables": tables,
                        "rows": report.rows(),
                        "attempts": report.attempts,
                        "frozen_seconds": report.frozen_for.as_secs_f64(),
                        "old_copy_left": report.old_copy_left,
                    })
                );
            } else {
                for t in &report.tables {
                    println!(
                        "{:<32} {:>10} rows  checksum {}",
                        t.table, t.rows, t.checksum
                    );
                }
                println!(
                    "moved {} rows of {} to {} in {} attempt(s); writes were frozen for {:.1} s",
                    report.rows(),
                    tenant.slug(),
                    describe(&to),
                    report.attempts,
                    report.frozen_for.as_secs_f64()
                );
            }
            match &report.old_copy_left {
                None => ExitCode::SUCCESS,
                Some(why) => {
                    eprintln!(
                        "tenancy move: {} is at {} now, but its old copy at {} could not be deleted: {why}; delete it by hand",
                        tenant.slug(),
                        describe(&to),
                        describe(&from)
                    );
                    ExitCode::from(1)
                }
            }
        }
        Err(err) => {
            eprintln!(
                "tenancy move: {err}; {} stays at {}",
                tenant.slug(),
                describe(&from)
            );
            ExitCode::from(1)
        }
    }
}

type Setup = (TenantMover<RoutedPool>, Tenant, Placement);

async fn setup(args: &MoveArgs) -> Result<Setup, Refused> {
    let main_options: PgConnectOptions = args.database_url.parse()?;
    let mut builder =
        RoutedPool::builder(PlacementRouter::new().with_default(TargetName::new(MAIN)?))
            .target(TargetName::new(MAIN)?, main_options.clone())
            .pool_options(PgPoolOptions::new().max_connections(4));
    let mut names = Vec::new();
    for target in &args.targets {
        let Some((name, url)) = target.split_once('=') else {
            return Err(Refused(format!("--target {target:?}: expected NAME=URL")));
        };
        let name = TargetName::new(name).map_err(|e| format!("--target {name:?}: {e}"))?;
        let options: PgConnectOptions = url.parse().map_err(|e| format!("--target {name}: {e}"))?;
        names.push(name.clone());
        builder = builder.target(name, options);
    }
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&args.database_url)
        .await?;
    let store = PgTenantStore::new(pool).with_table(&args.tenants_table)?;
    let tenant = find(&store, &args.tenant).await?;
    let to = match args.to.as_str() {
        "shared" => Placement::shared(),
        "schema" => Placement::shared().with_schema(SchemaName::for_tenant(&tenant.id())),
        other => match other.strip_prefix("target:") {
            Some(name) => {
                let name = TargetName::new(name).map_err(|e| format!("--to {other:?}: {e}"))?;
                if !names.contains(&name) {
                    return Err(Refused(format!(
                        "--to {other:?}: no --target {name}=URL says where that is"
                    )));
                }
                Placement::shared().with_target(name)
            }
            None => {
                return Err(Refused(format!(
                    "--to {other:?}: expected shared, schema or target:NAME"
                )));
            }
        },
    };
    let mut mover = TenantMover::new(store, builder.build())
        .with_tenant_column(&args.tenant_column)
        .drain(Duration::from_secs(args.drain));
    if to.schema().is_some() || tenant.placement().schema().is_some() {
        let migrations = match &args.migrations {
            Some(dir) => Migrations::from_dir(dir)?,
            None if to.schema().is_some() => {
                return Err(Refused(
                    "--to schema: give --migrations DIR, the tables of the new schema".to_owned(),
                ));
            }
            None => Migrations::new(),
        };
        let url = args.provisioner_url.as_ref().unwrap_or(&args.database_url);
        let pool = PgPoolOptions::new().max_connections(2).connect(url).await?;
        // The role of `--database-url` runs the tenant transactions: it
        // switches to the schema's role there.
        let app_role = main_options.get_username();
        mover = mover.with_schemas(SchemaProvisioner::new(pool, migrations).grant_to(app_role)?);
    }
    Ok((mover, tenant, to))
}

/// The tenant `text` names: an id or a slug in the tenants table.
async fn find(store: &PgTenantStore, text: &str) -> Result<Tenant, Refused> {
    let found = if let Ok(id) = text.parse::<TenantId>() {
        store.by_id(id).await?
    } else {
        let slug = text
            .parse()
            .map_err(|e| format!("--tenant {text:?} is neither an id nor a slug: {e}"))?;
        store.by_slug(&slug).await?
    };
    found.ok_or_else(|| Refused(format!("--tenant {text:?}: no such tenant")))
}

fn describe(placement: &Placement) -> String {
    match (placement.schema(), placement.target()) {
        (Some(schema), _) => format!("its own schema {}", schema.as_str()),
        (None, Some(target)) => format!("the target {}", target.as_str()),
        (None, None) => "the shared tables".to_owned(),
    }
}

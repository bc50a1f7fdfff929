//! `tenancy schemas migrate`: bring every tenant schema up to date.

use std::process::ExitCode;

use crate::flags::{Flags, database_url_from_env, require_database};

use sqlx::postgres::PgPoolOptions;
use tenancy_sqlx::PgTenantStore;
use tenancy_sqlx::schemas::{Migrations, SchemaProvisioner};

pub(crate) const USAGE: &str =
    "usage: tenancy schemas migrate --database-url URL --migrations DIR [options]

Runs the migrations in DIR (<version>_<description>.sql) in every tenant
schema listed in the tenants table, a few schemas at a time. Prints one
line per schema as it finishes. A failing schema is reported and the others
go on; each migration commits on its own, so running the command again
resumes where it stopped.

options:
  --database-url URL    the provisioning role (owns the tenant tables; default: $DATABASE_URL)
  --migrations DIR      the migrations
  --tenants-table NAME  the tenants table (default tenancy_tenants)
  --concurrency N       schemas migrated at once (default 4)";

struct Args {
    url: String,
    migrations: String,
    table: String,
    concurrency: usize,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut flags = Flags::new(args);
    match flags.next() {
        Some("migrate") => {}
        Some(other) => return Err(format!("unknown schemas command {other:?}")),
        None => return Err("missing schemas command (migrate)".to_owned()),
    }
    let mut url = database_url_from_env();
    let (mut migrations, mut table, mut concurrency) = (None, "tenancy_tenants".to_owned(), 4);
    while let Some(flag) = flags.next() {
        match flag {
            "--database-url" => url = Some(flags.value(flag)?),
            "--migrations" => migrations = Some(flags.value(flag)?),
            "--tenants-table" => table = flags.value(flag)?,
            "--concurrency" => {
                concurrency = flags
                    .value(flag)?
                    .parse()
                    .map_err(|_| "--concurrency needs a positive number".to_owned())?;
            }
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    Ok(Args {
        url: require_database(url)?,
        migrations: migrations.ok_or("no migrations: pass --migrations DIR")?,
        table,
        concurrency,
    })
}

/// Runs `tenancy schemas ...` with the arguments after `schemas`.
pub(crate) async fn run(args: &[String]) -> ExitCode {
    let args = match parse(args) {
        Ok(args) => args,
        Err(err) => {
            eprintln!("tenancy schemas: {err}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let setup = async {
        let migrations = Migrations::from_dir(&args.migrations)?;
        let pool = PgPoolOptions::new()
            .max_connections(u32::try_from(args.concurrency.max(1)).unwrap_or(4))
            .connect(&args.url)
            .await?;
        let schemas = PgTenantStore::new(pool.clone())
            .with_table(&args.table)?
            .tenant_schemas()
            .await?;
        Ok::<_, tenancy_sqlx::Error>((SchemaProvisioner::new(pool, migrations), schemas))
    };
    let (provisioner, schemas) = match setup.await {
        Ok(setup) => setup,
        Err(err) => {
            eprintln!("tenancy schemas: {err}");
            return ExitCode::from(2);
        }
    };
    let started = std::time::Instant::now();
    let report = provisioner
        .migrate_all(schemas.into_iter().map(|(_, s)| s), args.concurrency, |p| {
            let what = match p.outcome {
                Ok(v) if v.is_empty() => "up to date".to_owned(),
                Ok(v) => format!("applied {v:?}"),
                Err(err) => format!("FAILED: {err}"),
            };
            println!("[{}/{}] {}: {what}", p.done, p.total, p.schema);
        })
        .await;
    println!(
        "{} migrated, {} up to date, {} failed in {:.1} s",
        report.migrated.len(),
        report.up_to_date.len(),
        report.failed.len(),
        started.elapsed().as_secs_f64()
    );
    if report.failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    }
}

//! `tenancy manifest`: write, or check, the manifest of tenant tables that
//! the scoped SQL macros (`tenancy_sqlx::query!`) read at compile time.

use std::path::PathBuf;
use std::process::ExitCode;

use crate::flags::{Flags, database_url_from_env, require_database};

use sqlx::{Connection, PgConnection};
use tenancy_sqlx::manifest::{ManifestOptions, VerifyError, from_database, verify};

pub(crate) const USAGE: &str = "usage: tenancy manifest --database-url URL [options]

Writes the manifest the scoped SQL macros read at compile time: every table
of the database, as a tenant table (it has the tenant column) or a shared
one. Commit it next to your crate's Cargo.toml. With --check, compares the
file with the database instead and fails when it is stale (run it in CI).

options:
  --database-url URL    the database (default: $DATABASE_URL), migrated; any role that can read the catalog
  --path PATH           the manifest file (default tenancy.manifest); - writes to standard output
  --check               do not write: exit 1 if the file differs from the database
  --tenant-column NAME  the tenant column (default tenant_id)
  --schema SCHEMA       read only this schema (repeatable; default: every schema but PostgreSQL's own)";

struct Args {
    url: String,
    path: String,
    check: bool,
    options: ManifestOptions,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut flags = Flags::new(args);
    let mut url = database_url_from_env();
    let mut path = tenancy_sqlx::manifest::FILE_NAME.to_owned();
    let mut check = false;
    let mut options = ManifestOptions::default();
    while let Some(flag) = flags.next() {
        match flag {
            "--database-url" => url = Some(flags.value(flag)?),
            "--path" => path = flags.value(flag)?,
            "--check" => check = true,
            "--tenant-column" => options = options.tenant_column(&flags.value(flag)?),
            "--schema" => options = options.schema(&flags.value(flag)?),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    if check && path == "-" {
        return Err("--check needs a file, not -".into());
    }
    let url = require_database(url)?;
    Ok(Args {
        url,
        path,
        check,
        options,
    })
}

/// Runs `tenancy manifest` with the arguments after the command name.
pub(crate) async fn run(args: &[String]) -> ExitCode {
    let args = match parse(args) {
        Ok(args) => args,
        Err(err) => {
            eprintln!("tenancy manifest: {err}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let mut conn = match PgConnection::connect(&args.url).await {
        Ok(conn) => conn,
        Err(err) => {
            eprintln!("tenancy manifest: cannot connect to the database: {err}");
            return ExitCode::from(2);
        }
    };
    let code = if args.check {
        match verify(&mut conn, &PathBuf::from(&args.path), &args.options).await {
            Ok(()) => {
                println!("{} matches the database", args.path);
                ExitCode::SUCCESS
            }
            Err(VerifyError::Stale(stale)) => {
                eprintln!("{}: {stale}", args.path);
                ExitCode::from(1)
            }
            Err(err) => {
                eprintln!("tenancy manifest: {err}");
                ExitCode::from(2)
            }
        }
    } else {
        match from_database(&mut conn, &args.options).await {
            Ok(manifest) if args.path == "-" => {
                print!("{manifest}");
                ExitCode::SUCCESS
            }
            Ok(manifest) => match std::fs::write(&args.path, manifest.to_string()) {
                Ok(()) => {
                    let tenant = manifest
                        .tables()
                        .iter()
                        .filter(|t| t.tenant_column.is_some())
                        .count();
                    println!(
                        "wrote {}: {tenant} tenant tables, {} shared",
                        args.path,
                        manifest.tables().len() - tenant
                    );
                    ExitCode::SUCCESS
                }
                Err(err) => {
                    eprintln!("tenancy manifest: cannot write {}: {err}", args.path);
                    ExitCode::from(2)
                }
            },
            Err(err) => {
                eprintln!("tenancy manifest: cannot read the database: {err}");
                ExitCode::from(2)
            }
        }
    };
    let _ = conn.close().await;
    code
}

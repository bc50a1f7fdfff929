//! `tenancy manifest`: write, or check, the manifest of tenant tables that
//! the scoped SQL macros (`tenancy_sqlx::query!`) read at compile time.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sqlx::{Connection, PgConnection};
use tenancy_sqlx::manifest::{
    Manifest, ManifestOptions, TableEntry, VerifyError, from_database, verify,
};

/// Writes (or checks) the tenant-table manifest of the SQL macros.
///
/// Writes the manifest the scoped SQL macros read at compile time: every
/// table of the database, as a tenant table (it has the tenant column) or
/// a shared one. Commit it next to your crate's Cargo.toml. With --check,
/// compares the file with the database instead and exits 1 when it is
/// stale (run it in CI).
#[derive(Debug, Args)]
pub(crate) struct ManifestArgs {
    /// The database, migrated; any role that can read the catalog.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The manifest file; `-` writes it to standard output.
    #[arg(long, value_name = "PATH", default_value = tenancy_sqlx::manifest::FILE_NAME)]
    path: String,
    /// Does not write: exits 1 if the file differs from the database.
    #[arg(long)]
    check: bool,
    /// The tenant column.
    #[arg(long, value_name = "NAME", default_value = "tenant_id")]
    tenant_column: String,
    /// Reads only this schema (repeatable; default: every schema but
    /// PostgreSQL's own).
    #[arg(long, value_name = "SCHEMA")]
    schema: Vec<String>,
    /// Prints the result as JSON.
    #[arg(long)]
    json: bool,
}

fn line(entry: &TableEntry) -> String {
    match &entry.tenant_column {
        Some(c) if entry.id_type == "uuid" => format!("tenant {}.{} {c}", entry.schema, entry.name),
        Some(c) => format!(
            "tenant {}.{} {c} {}",
            entry.schema, entry.name, entry.id_type
        ),
        None => format!("shared {}.{}", entry.schema, entry.name),
    }
}

fn counts(manifest: &Manifest) -> (usize, usize) {
    let tenant = manifest
        .tables()
        .iter()
        .filter(|t| t.tenant_column.is_some())
        .count();
    (tenant, manifest.tables().len() - tenant)
}

/// Runs `tenancy manifest`.
pub(crate) async fn run(args: ManifestArgs) -> ExitCode {
    if args.check && args.path == "-" {
        eprintln!("tenancy manifest: --check needs a file, not -");
        return ExitCode::from(2);
    }
    let mut options = ManifestOptions::default().tenant_column(&args.tenant_column);
    for schema in &args.schema {
        options = options.schema(schema);
    }
    let mut conn = match PgConnection::connect(&args.database_url).await {
        Ok(conn) => conn,
        Err(err) => {
            return crate::unavailable(
                "manifest",
                format!("cannot connect to the database: {err}"),
            );
        }
    };
    let code = if args.check {
        check(&args, &mut conn, &options).await
    } else {
        write(&args, &mut conn, &options).await
    };
    let _ = conn.close().await;
    code
}

async fn check(
    args: &ManifestArgs,
    conn: &mut PgConnection,
    options: &ManifestOptions,
) -> ExitCode {
    let (code, missing, extra) = match verify(&mut *conn, &PathBuf::from(&args.path), options).await
    {
        Ok(()) => {
            if !args.json {
                println!("{} matches the database", args.path);
            }
            (ExitCode::SUCCESS, Vec::new(), Vec::new())
        }
        Err(VerifyError::Stale(stale)) => {
            if !args.json {
                eprintln!("{}: {stale}", args.path);
            }
            (ExitCode::from(1), stale.missing, stale.extra)
        }
        Err(err) => return crate::unavailable("manifest", err),
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "path": args.path,
                "stale": !(missing.is_empty() && extra.is_empty()),
                "database_has": missing.iter().map(line).collect::<Vec<_>>(),
                "manifest_says": extra.iter().map(line).collect::<Vec<_>>(),
            })
        );
    }
    code
}

async fn write(
    args: &ManifestArgs,
    conn: &mut PgConnection,
    options: &ManifestOptions,
) -> ExitCode {
    let manifest = match from_database(&mut *conn, options).await {
        Ok(manifest) => manifest,
        Err(err) => {
            return crate::unavailable("manifest", format!("cannot read the database: {err}"));
        }
    };
    if args.path == "-" {
        print!("{manifest}");
        return ExitCode::SUCCESS;
    }
    if let Err(err) = std::fs::write(&args.path, manifest.to_string()) {
        return crate::unavailable("manifest", format!("cannot write {}: {err}", args.path));
    }
    let (tenant, shared) = counts(&manifest);
    if args.json {
        println!(
            "{}",
            serde_json::json!({"path": args.path, "tenant_tables": tenant, "shared_tables": shared})
        );
    } else {
        println!(
            "wrote {}: {tenant} tenant tables, {shared} shared",
            args.path
        );
    }
    ExitCode::SUCCESS
}

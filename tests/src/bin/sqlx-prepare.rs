//! Regenerates sqlx's offline data (`.sqlx/`) of a workspace crate whose
//! queries are checked at compile time: starts a throwaway PostgreSQL,
//! applies the crate's schema, and builds the crate with `DATABASE_URL` set
//! and `SQLX_OFFLINE_DIR` pointing at the crate's `.sqlx/`.
//!
//! ```text
//! cargo run -p tenancy-testing --bin sqlx-prepare -- PACKAGE CRATE_DIR SCHEMA_FILE
//! ```
//!
//! `scripts/sqlx-prepare.sh` runs it for every such crate.

use std::path::Path;
use std::process::{Command, ExitCode};

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [package, dir, schema] = args.as_slice() else {
        eprintln!("usage: sqlx-prepare PACKAGE CRATE_DIR SCHEMA_FILE");
        return ExitCode::from(2);
    };
    match prepare(package, Path::new(dir), Path::new(schema)) {
        Ok(files) => {
            println!("{package}: wrote {files} query files to {dir}/.sqlx");
            ExitCode::SUCCESS
        }
        Err(message) => {
            eprintln!("sqlx-prepare: {message}");
            ExitCode::FAILURE
        }
    }
}

fn prepare(package: &str, dir: &Path, schema: &Path) -> Result<usize, String> {
    let schema =
        std::fs::read_to_string(schema).map_err(|e| format!("{}: {e}", schema.display()))?;
    let server = tenancy_testing::PgServer::start().map_err(|e| e.to_string())?;
    let db = server.create_database().map_err(|e| e.to_string())?;
    db.owner_sql(&schema).map_err(|e| e.to_string())?;
    let offline = dir.join(".sqlx");
    if offline.exists() {
        std::fs::remove_dir_all(&offline).map_err(|e| e.to_string())?;
    }
    std::fs::create_dir_all(&offline).map_err(|e| e.to_string())?;
    // The macros run only when the crate is compiled again.
    for entry in std::fs::read_dir(dir.join("src")).map_err(|e| e.to_string())? {
        let path = entry.map_err(|e| e.to_string())?.path();
        std::fs::File::options()
            .append(true)
            .open(&path)
            .and_then(|f| f.set_modified(std::time::SystemTime::now()))
            .map_err(|e| format!("{}: {e}", path.display()))?;
    }
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "-p", package, "--lib"])
        .env("DATABASE_URL", db.app_url())
        .env("SQLX_OFFLINE_DIR", &offline)
        .env("SQLX_OFFLINE", "false")
        .status()
        .map_err(|e| e.to_string())?;
    if !status.success() {
        return Err(format!("cargo build -p {package} failed"));
    }
    let files = std::fs::read_dir(&offline)
        .map_err(|e| e.to_string())?
        .count();
    drop(db);
    drop(server);
    Ok(files)
}

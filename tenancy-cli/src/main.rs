//! `tenancy`: command-line tools for the tenancy SDK.
//!
//! ```text
//! tenancy audit --database-url URL [--app-role NAME] [--json] [--fail-on SEVERITY]
//!               [--tenant-column NAME] [--setting NAME]
//!               [--tenant-schema SCHEMA]... [--shared-table TABLE]...
//! tenancy schemas migrate --database-url URL --migrations DIR
//!               [--tenants-table NAME] [--concurrency N]
//! tenancy manifest --database-url URL [--path PATH] [--check]
//!               [--tenant-column NAME] [--schema SCHEMA]...
//! ```
//!
//! Exit codes: 0 success (`audit`: no finding at or above `--fail-on`,
//! default `high`); 1 findings, schemas that failed to migrate, or a stale
//! manifest (`manifest --check`); 2 bad arguments or the database could not
//! be read.

mod audit_cmd;
mod flags;
mod manifest_cmd;
mod schemas_cmd;

use std::process::ExitCode;

const USAGE: &str = "usage: tenancy audit [options]            (tenancy audit --help)
       tenancy schemas migrate [options]  (tenancy schemas migrate --help)
       tenancy manifest [options]         (tenancy manifest --help)";

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let help = args.iter().any(|a| a == "-h" || a == "--help");
    match args.first().map(String::as_str) {
        Some("audit") if help => println!("{}", audit_cmd::USAGE),
        Some("audit") => return audit_cmd::run(&args[1..]).await,
        Some("schemas") if help => println!("{}", schemas_cmd::USAGE),
        Some("schemas") => return schemas_cmd::run(&args[1..]).await,
        Some("manifest") if help => println!("{}", manifest_cmd::USAGE),
        Some("manifest") => return manifest_cmd::run(&args[1..]).await,
        _ if help => println!("{USAGE}"),
        Some(other) => {
            eprintln!("tenancy: unknown command {other:?}\n\n{USAGE}");
            return ExitCode::from(2);
        }
        None => {
            eprintln!("tenancy: missing command\n\n{USAGE}");
            return ExitCode::from(2);
        }
    }
    ExitCode::SUCCESS
}

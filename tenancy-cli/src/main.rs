//! `tenancy`: the operator's command for the tenancy SDK.
//!
//! ```text
//! tenancy audit            find what could leak tenants in a live database
//! tenancy schemas migrate  run migrations in every tenant schema, with progress
//! tenancy manifest         write (or --check) the tenant-table manifest of the SQL macros
//! tenancy retrofit         the plan that puts an existing database under tenant isolation
//! tenancy usage            every tenant's usage from the metering rollups (table or JSON)
//! tenancy domains          tenants' custom domains: add, verify (DNS TXT or HTTP), list, remove
//! tenancy move             move a tenant to another tier (schema, database) while its traffic runs
//! tenancy completions SHELL  print a shell completion script
//! ```
//!
//! Every command has its own `--help`; `--database-url` defaults to
//! `$DATABASE_URL`. Output is human text by default and JSON with
//! `--json` (shapes in the README). Exit codes: 0 success; 1 findings
//! (`audit`, at or above `--fail-on`), schemas that failed to migrate, or
//! a stale manifest (`manifest --check`), a retrofit that failed or whose
//! result the audit rejects (`retrofit --dry-run`/`--apply`), a domain
//! whose proof was not found (`domains verify`), a move that failed (the tenant
//! stays where it was, `move`); 2 bad arguments, or a database
//! that could not be reached or read.

mod audit_cmd;
mod domains_cmd;
mod manifest_cmd;
mod move_cmd;
mod progress;
mod retrofit_cmd;
mod schemas_cmd;
mod usage_cmd;

use std::process::ExitCode;

use clap::{CommandFactory, Parser, Subcommand};

/// Tenant isolation tools: audit a PostgreSQL database, migrate tenant
/// schemas, write the manifest of tenant tables, retrofit an existing
/// database, report usage per tenant, manage custom domains, move tenants
/// between tiers.
#[derive(Debug, Parser)]
#[command(name = "tenancy", version, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    Audit(audit_cmd::AuditArgs),
    Schemas {
        #[command(subcommand)]
        command: schemas_cmd::SchemasCommand,
    },
    Manifest(manifest_cmd::ManifestArgs),
    Retrofit(retrofit_cmd::RetrofitArgs),
    Usage(usage_cmd::UsageArgs),
    Domains {
        #[command(subcommand)]
        command: domains_cmd::DomainsCommand,
    },
    Move(move_cmd::MoveArgs),
    /// Prints a completion script for SHELL (bash, zsh, fish, elvish,
    /// powershell) to standard output.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> ExitCode {
    // clap prints help and version (exit 0) and usage errors (exit 2).
    let cli = Cli::parse();
    match cli.command {
        Command::Audit(args) => audit_cmd::run(args).await,
        Command::Schemas {
            command: schemas_cmd::SchemasCommand::Migrate(args),
        } => schemas_cmd::run(args).await,
        Command::Manifest(args) => manifest_cmd::run(args).await,
        Command::Retrofit(args) => retrofit_cmd::run(args).await,
        Command::Usage(args) => usage_cmd::run(args).await,
        Command::Domains { command } => domains_cmd::run(command).await,
        Command::Move(args) => move_cmd::run(args).await,
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "tenancy",
                &mut std::io::stdout(),
            );
            ExitCode::SUCCESS
        }
    }
}

/// A connection-level failure: printed, exit code 2.
fn unavailable(command: &str, what: impl std::fmt::Display) -> ExitCode {
    eprintln!("tenancy {command}: {what}");
    ExitCode::from(2)
}

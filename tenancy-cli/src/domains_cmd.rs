//! `tenancy domains`: tenants' custom domains and their proof of ownership.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tenancy_core::{TenantId, TenantStoreExt};
use tenancy_domains::{
    DomainError, DomainName, DomainResolver, DomainStatus, DomainStore, DomainVerifier,
    TenantDomain,
};
use tenancy_sqlx::PgTenantStore;

/// Adds, verifies, lists and removes tenants' custom domains.
///
/// A domain is added pending, with a token; the tenant proves it owns the
/// domain with a DNS TXT record (or an HTTP token), `verify` checks it, and
/// only then does the domain resolve to the tenant. Run `reverify` on a
/// schedule: a domain whose proof is gone stops resolving.
#[derive(Debug, Subcommand)]
pub(crate) enum DomainsCommand {
    /// Prints the SQL that creates the domains table (for a migration).
    Schema(SchemaArgs),
    /// Adds a domain to a tenant, pending, and prints how to prove it.
    Add(AddArgs),
    /// Checks a domain's proof now and records the outcome (exit 1 when not
    /// proven).
    Verify(VerifyArgs),
    /// Re-checks every domain that is due (verified ones checked more than
    /// --every hours ago, and every pending one).
    Reverify(ReverifyArgs),
    /// Lists domains with their status.
    List(ListArgs),
    /// Removes a tenant's domain.
    Remove(RemoveArgs),
}

/// Where the domains are.
#[derive(Debug, Args)]
pub(crate) struct Db {
    /// The database, as a role that may write the domains table.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The domains table (`name` or `schema.name`).
    #[arg(long, value_name = "NAME", default_value = "tenancy_domains")]
    table: String,
    /// The tenants table, to find a tenant by slug.
    #[arg(long, value_name = "NAME", default_value = "tenancy_tenants")]
    tenants_table: String,
}

/// How domains are checked.
#[derive(Debug, Args)]
pub(crate) struct Check {
    /// Ask this name server (`IP:PORT`) instead of the system's.
    #[arg(long, value_name = "IP:PORT")]
    nameserver: Option<SocketAddr>,
    /// Also accept the HTTP token at
    /// `http://DOMAIN/.well-known/tenancy-challenge/TOKEN`.
    #[arg(long)]
    http: bool,
    /// With --http: the port (80 by default).
    #[arg(long, value_name = "PORT", requires = "http")]
    http_port: Option<u16>,
}

#[derive(Debug, Args)]
pub(crate) struct SchemaArgs {
    /// The domains table (`name` or `schema.name`).
    #[arg(long, value_name = "NAME", default_value = "tenancy_domains")]
    table: String,
}

#[derive(Debug, Args)]
pub(crate) struct AddArgs {
    #[command(flatten)]
    db: Db,
    /// The tenant: its id or its slug.
    #[arg(long, value_name = "ID|SLUG")]
    tenant: String,
    /// The domain, as the tenant typed it (normalised: IDNA, case,
    /// trailing dot).
    domain: String,
    /// A JSON object instead of instructions.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct VerifyArgs {
    #[command(flatten)]
    db: Db,
    #[command(flatten)]
    check: Check,
    /// The domain.
    domain: String,
    /// A JSON object.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ReverifyArgs {
    #[command(flatten)]
    db: Db,
    #[command(flatten)]
    check: Check,
    /// Re-check verified domains last checked more than this many hours
    /// ago.
    #[arg(long, value_name = "HOURS", default_value_t = 24)]
    every: u64,
    /// A JSON array of the domains whose status changed.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct ListArgs {
    #[command(flatten)]
    db: Db,
    /// Only this tenant's (its id or slug).
    #[arg(long, value_name = "ID|SLUG")]
    tenant: Option<String>,
    /// A JSON array.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
pub(crate) struct RemoveArgs {
    #[command(flatten)]
    db: Db,
    /// The tenant that owns it (its id or slug).
    #[arg(long, value_name = "ID|SLUG")]
    tenant: String,
    /// The domain.
    domain: String,
}

/// Bad input, or a database that could not be reached or read: exit 2.
struct Failed(String);

impl<E: std::fmt::Display> From<E> for Failed {
    fn from(error: E) -> Self {
        Self(error.to_string())
    }
}

/// Runs `tenancy domains ...`.
pub(crate) async fn run(command: DomainsCommand) -> ExitCode {
    let result = match command {
        DomainsCommand::Schema(args) => schema(&args),
        DomainsCommand::Add(args) => add(args).await,
        DomainsCommand::Verify(args) => verify(args).await,
        DomainsCommand::Reverify(args) => reverify(args).await,
        DomainsCommand::List(args) => list(args).await,
        DomainsCommand::Remove(args) => remove(args).await,
    };
    match result {
        Ok(code) => code,
        Err(Failed(why)) => crate::unavailable("domains", why),
    }
}

fn schema(args: &SchemaArgs) -> Result<ExitCode, Failed> {
    let store = DomainStore::new(lazy_pool()?).with_table(&args.table)?;
    print!("{}", store.create_table_sql());
    Ok(ExitCode::SUCCESS)
}

/// A pool that never connects, for SQL that needs no database.
fn lazy_pool() -> Result<PgPool, Failed> {
    Ok(PgPoolOptions::new().connect_lazy("postgres://localhost/unused")?)
}

/// Connects once to fail fast (a pool would retry for 30 s), then pools.
async fn connect(db: &Db) -> Result<(DomainStore, PgPool), Failed> {
    let store_table =
        tenancy_core::rls::Ident::new(&db.table).map_err(|e| Failed(format!("--table: {e}")))?;
    PgConnection::connect(&db.database_url)
        .await?
        .close()
        .await?;
    let pool = PgPoolOptions::new()
        .max_connections(2)
        .connect(&db.database_url)
        .await?;
    let store = DomainStore::new(pool.clone()).with_table(store_table.as_str())?;
    Ok((store, pool))
}

fn domain(text: &str) -> Result<DomainName, Failed> {
    text.parse().map_err(|e| Failed(format!("{e}")))
}

/// The tenant `text` names: an id, or a slug in the tenants table.
async fn tenant(db: &Db, pool: &PgPool, text: &str) -> Result<TenantId, Failed> {
    if let Ok(id) = text.parse::<TenantId>() {
        return Ok(id);
    }
    let slug = text.parse().map_err(|e| {
        Failed(format!(
            "--tenant {text:?} is neither an id nor a slug: {e}"
        ))
    })?;
    let tenants = PgTenantStore::new(pool.clone()).with_table(&db.tenants_table)?;
    match tenants.by_slug(&slug).await? {
        Some(found) => Ok(found.id()),
        None => Err(Failed(format!("no tenant with the slug {text:?}"))),
    }
}

fn verifier(check: &Check) -> Result<DomainVerifier, Failed> {
    let resolver = match check.nameserver {
        Some(addr) => DomainResolver::nameserver(addr)?,
        None => DomainResolver::system()?,
    };
    let mut verifier = DomainVerifier::new(resolver);
    if check.http {
        verifier = verifier.with_http();
        if let Some(port) = check.http_port {
            verifier = verifier.http_port(port);
        }
    }
    Ok(verifier)
}

fn json(domain: &TenantDomain) -> serde_json::Value {
    let seconds = |t: Option<std::time::SystemTime>| {
        t.and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_secs())
    };
    serde_json::json!({
        "domain": domain.domain.as_str(),
        "tenant": domain.tenant.to_string(),
        "status": domain.status.as_str(),
        "primary": domain.primary,
        "tls": domain.tls.as_str(),
        "txt_name": domain.domain.challenge_name(),
        "txt_value": domain.txt_value(),
        "http_path": domain.http_path(),
        "verified_at": seconds(domain.verified_at),
        "checked_at": seconds(domain.checked_at),
        "failure": domain.failure,
    })
}

fn line(domain: &TenantDomain) -> String {
    format!(
        "{:<40} {:<9} {:<36} {}{}",
        domain.domain.as_str(),
        domain.status.as_str(),
        domain.tenant.to_string(),
        if domain.primary { "primary " } else { "" },
        domain.failure.as_deref().unwrap_or_default(),
    )
}

async fn add(args: AddArgs) -> Result<ExitCode, Failed> {
    let name = domain(&args.domain)?;
    let (store, pool) = connect(&args.db).await?;
    let tenant = tenant(&args.db, &pool, &args.tenant).await?;
    let added = match store.add(&tenant, &name).await {
        Err(DomainError::Taken(taken)) => {
            return Err(Failed(format!(
                "the domain {taken} already belongs to another tenant"
            )));
        }
        other => other?,
    };
    if args.json {
        println!("{}", json(&added));
    } else {
        println!(
            "{} is {} for tenant {}.\nTo prove ownership, publish this DNS record:\n\n  {} TXT \"{}\"\n\nor serve the token as the body of\n\n  http://{}{}\n\nthen run: tenancy domains verify {}",
            added.domain,
            added.status,
            added.tenant,
            added.domain.challenge_name(),
            added.txt_value(),
            added.domain,
            added.http_path(),
            added.domain,
        );
    }
    Ok(ExitCode::SUCCESS)
}

async fn verify(args: VerifyArgs) -> Result<ExitCode, Failed> {
    let name = domain(&args.domain)?;
    let verifier = verifier(&args.check)?;
    let (store, _) = connect(&args.db).await?;
    let checked = store.verify(&name, &verifier).await?;
    if args.json {
        println!("{}", json(&checked));
    } else {
        println!("{}", line(&checked));
    }
    Ok(if checked.status == DomainStatus::Verified {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

async fn reverify(args: ReverifyArgs) -> Result<ExitCode, Failed> {
    let verifier = verifier(&args.check)?;
    let (store, _) = connect(&args.db).await?;
    let every = Duration::from_secs(args.every.saturating_mul(3_600));
    let changed = store.reverify_due(&verifier, every).await?;
    if args.json {
        println!(
            "{}",
            serde_json::Value::Array(changed.iter().map(json).collect())
        );
    } else {
        for domain in &changed {
            println!("{}", line(domain));
        }
        eprintln!("{} domains changed status", changed.len());
    }
    Ok(ExitCode::SUCCESS)
}

async fn list(args: ListArgs) -> Result<ExitCode, Failed> {
    let (store, pool) = connect(&args.db).await?;
    let tenant = match &args.tenant {
        Some(text) => Some(tenant(&args.db, &pool, text).await?),
        None => None,
    };
    let domains = store.list(tenant.as_ref()).await?;
    if args.json {
        println!(
            "{}",
            serde_json::Value::Array(domains.iter().map(json).collect())
        );
    } else {
        for domain in &domains {
            println!("{}", line(domain));
        }
    }
    Ok(ExitCode::SUCCESS)
}

async fn remove(args: RemoveArgs) -> Result<ExitCode, Failed> {
    let name = domain(&args.domain)?;
    let (store, pool) = connect(&args.db).await?;
    let tenant = tenant(&args.db, &pool, &args.tenant).await?;
    if store.remove(&tenant, &name).await? {
        eprintln!("removed {name}");
        Ok(ExitCode::SUCCESS)
    } else {
        Err(Failed(format!("tenant {tenant} has no domain {name}")))
    }
}

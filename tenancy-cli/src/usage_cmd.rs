//! `tenancy usage`: every tenant's usage from the metering rollups.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::process::ExitCode;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use clap::{Args, ValueEnum};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection, PgPool};
use tenancy_metering::names;
use tenancy_metering::postgres::{Granularity, StorageMeter, UsageError, UsageLine, UsageStore};

/// Reports every tenant's usage from the metering rollups.
///
/// Reads the usage table that `tenancy_metering::postgres::UsageStore`
/// fills: per day (today so far included) or per hour, one line per tenant
/// and period. Run it as the table's owner: the application role sees only
/// the tenant its transaction is bound to.
#[derive(Debug, Args)]
pub(crate) struct UsageArgs {
    /// The database, as the usage table's owner.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The usage table (`name` or `schema.name`).
    #[arg(long, value_name = "NAME", default_value = UsageStore::DEFAULT_TABLE)]
    table: String,
    /// One line per tenant and day, or per tenant and hour.
    #[arg(long, value_enum, default_value_t = By::Day)]
    by: By,
    /// How many days back, today included.
    #[arg(long, value_name = "N", default_value_t = 7, value_parser = clap::value_parser!(u32).range(1..=3660))]
    days: u32,
    /// Only this tenant (its id).
    #[arg(long, value_name = "ID")]
    tenant: Option<String>,
    /// First roll finished days up into daily rows.
    #[arg(long)]
    roll_up: bool,
    /// With --roll-up: then delete hourly rows older than this many hours
    /// (only of days that are rolled up).
    #[arg(long, value_name = "HOURS", requires_all = ["roll_up", "keep_days"])]
    keep_hours: Option<u64>,
    /// With --roll-up: then delete daily rows older than this many days.
    #[arg(long, value_name = "DAYS", requires_all = ["roll_up", "keep_hours"])]
    keep_days: Option<u64>,
    /// Instead of the rollups: measure every tenant's storage now (rows
    /// and bytes in each table with a tenant column), as a role that
    /// bypasses row-level security.
    #[arg(long, conflicts_with_all = ["by", "days", "roll_up"])]
    storage: bool,
    /// With --storage: the tenant column that marks tenant tables.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "tenant_id",
        requires = "storage"
    )]
    tenant_column: String,
    /// With --storage: estimate from this percentage of each table's pages
    /// (cheaper on big tables, poor for small tenants).
    #[arg(long, value_name = "PERCENT", requires = "storage", value_parser = percent)]
    sample: Option<f64>,
    /// A JSON array, one object per tenant and period.
    #[arg(long)]
    json: bool,
}

fn percent(value: &str) -> Result<f64, String> {
    match value.parse::<f64>() {
        Ok(p) if p > 0.0 && p <= 100.0 => Ok(p),
        _ => Err(format!(
            "`{value}` is not a percentage above 0 and at most 100"
        )),
    }
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum By {
    Day,
    Hour,
}

/// The metrics, in the order of the report's columns, with their headers.
const COLUMNS: [(&str, &str); 6] = [
    (names::REQUESTS, "requests"),
    (names::CLIENT_ERRORS, "4xx"),
    (names::SERVER_ERRORS, "5xx"),
    (names::REQUEST_MICROS, "avg ms"),
    (names::TRANSACTIONS, "transactions"),
    (names::ROWS_WRITTEN, "rows written"),
];

/// Runs `tenancy usage`.
pub(crate) async fn run(args: UsageArgs) -> ExitCode {
    if args.storage {
        return storage(&args).await;
    }
    let granularity = match args.by {
        By::Day => Granularity::Day,
        By::Hour => Granularity::Hour,
    };
    let now = SystemTime::now();
    let today = UNIX_EPOCH + Duration::from_secs(seconds(now) / 86_400 * 86_400);
    let from = today - Duration::from_hours(24 * u64::from(args.days - 1));
    let to = today + Duration::from_hours(24);
    if let Err(err) = tenancy_core::rls::Ident::new(&args.table) {
        eprintln!("tenancy usage: --table: {err}");
        return ExitCode::from(2);
    }
    let lines = async {
        let pool = connect(&args.database_url).await?;
        let store = UsageStore::new(pool).with_table(&args.table)?;
        if args.roll_up {
            let added = store.roll_up().await?;
            eprintln!("rolled up: {added} daily rows added");
            if let (Some(hours), Some(days)) = (args.keep_hours, args.keep_days) {
                let pruned = store
                    .prune(
                        Duration::from_secs(hours.saturating_mul(3_600)),
                        Duration::from_secs(days.saturating_mul(86_400)),
                    )
                    .await?;
                eprintln!("pruned: {pruned} rows past retention deleted");
            }
        }
        store.report(granularity, from, to).await
    };
    let lines: Vec<UsageLine> = match lines.await {
        Ok(lines) => lines,
        Err(err) => return crate::unavailable("usage", err),
    };
    let rows = rows(lines, args.tenant.as_deref());
    if args.json {
        println!("{}", json(&rows));
    } else {
        print!("{}", table(&rows, args.by));
    }
    ExitCode::SUCCESS
}

/// A pool of one connection to `url`. A first connection fails fast with
/// the server's answer (a pool retries until its timeout).
async fn connect(url: &str) -> Result<PgPool, sqlx::Error> {
    PgConnection::connect(url).await?.close().await?;
    PgPoolOptions::new().max_connections(1).connect(url).await
}

/// `tenancy usage --storage`.
async fn storage(args: &UsageArgs) -> ExitCode {
    let measured = async {
        let pool = connect(&args.database_url).await?;
        let meter = StorageMeter::discover(&pool, &args.tenant_column).await?;
        let started = std::time::Instant::now();
        let measured = meter.measure_all(&pool, args.sample).await?;
        Ok::<_, UsageError>((meter, measured, started.elapsed()))
    };
    let (meter, measured, took) = match measured.await {
        Ok(measured) => measured,
        Err(err) => return crate::unavailable("usage", err),
    };
    let measured: Vec<_> = measured
        .into_iter()
        .filter(|s| args.tenant.as_deref().is_none_or(|t| t == s.tenant))
        .collect();
    eprintln!(
        "measured {} tables in {} ms{}",
        meter.tables().count(),
        took.as_millis(),
        args.sample
            .map(|p| format!(" (estimated from {p}% of their pages)"))
            .unwrap_or_default()
    );
    if args.json {
        let json: Vec<serde_json::Value> = measured
            .iter()
            .map(|s| serde_json::json!({"tenant": s.tenant, "rows": s.rows, "bytes": s.bytes}))
            .collect();
        println!("{}", serde_json::Value::from(json));
    } else {
        let width = measured
            .iter()
            .map(|s| s.tenant.len())
            .max()
            .unwrap_or(0)
            .max(6);
        println!("{:<width$}  {:>12}  {:>14}", "tenant", "rows", "bytes");
        for s in &measured {
            println!("{:<width$}  {:>12}  {:>14}", s.tenant, s.rows, s.bytes);
        }
    }
    ExitCode::SUCCESS
}

/// One tenant's metrics in one period.
type Rows = BTreeMap<(SystemTime, String), BTreeMap<String, i64>>;

fn rows(lines: Vec<UsageLine>, tenant: Option<&str>) -> Rows {
    let mut rows = Rows::new();
    for line in lines {
        if tenant.is_some_and(|t| t != line.tenant) {
            continue;
        }
        *rows
            .entry((line.period_start, line.tenant))
            .or_default()
            .entry(line.metric)
            .or_default() += line.value;
    }
    rows
}

fn json(rows: &Rows) -> serde_json::Value {
    rows.iter()
        .map(|((start, tenant), metrics)| {
            let mut object = serde_json::json!({
                "period_start": timestamp(*start),
                "tenant": tenant,
            });
            for (metric, _) in COLUMNS {
                object[metric] = metrics.get(metric).copied().unwrap_or(0).into();
            }
            object
        })
        .collect()
}

fn table(rows: &Rows, by: By) -> String {
    if rows.is_empty() {
        return "no usage recorded in this period\n".to_owned();
    }
    let period = |t: SystemTime| match by {
        By::Day => timestamp(t)[..10].to_owned(),
        By::Hour => timestamp(t)[..16].replace('T', " "),
    };
    let width = rows.keys().map(|(_, t)| t.len()).max().unwrap_or(0).max(6);
    let mut out = format!(
        "{:<16}  {:<width$}",
        match by {
            By::Day => "day",
            By::Hour => "hour (UTC)",
        },
        "tenant"
    );
    for (_, header) in COLUMNS {
        let _ = write!(out, "  {header:>12}");
    }
    out.push('\n');
    for ((start, tenant), metrics) in rows {
        let _ = write!(out, "{:<16}  {tenant:<width$}", period(*start));
        let get = |m: &str| metrics.get(m).copied().unwrap_or(0);
        for (metric, _) in COLUMNS {
            let cell = if metric == names::REQUEST_MICROS {
                let requests = get(names::REQUESTS);
                if requests == 0 {
                    "-".to_owned()
                } else {
                    let micros = get(metric) / requests;
                    format!("{}.{}", micros / 1_000, micros % 1_000 / 100)
                }
            } else {
                get(metric).to_string()
            };
            let _ = write!(out, "  {cell:>12}");
        }
        out.push('\n');
    }
    out
}

fn seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// `YYYY-MM-DDTHH:MM:SSZ` (UTC), from the days-to-civil algorithm of
/// Howard Hinnant's `chrono`-compatible date library.
fn timestamp(t: SystemTime) -> String {
    let secs = seconds(t);
    let (days, rest) = (secs / 86_400, secs % 86_400);
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + u64::from(month <= 2);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        rest / 3_600,
        rest % 3_600 / 60,
        rest % 60
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_are_utc_civil_dates() {
        let at = |s| timestamp(UNIX_EPOCH + Duration::from_secs(s));
        assert_eq!(at(0), "1970-01-01T00:00:00Z");
        // 2000-02-29 (a leap day of a century divisible by 400).
        assert_eq!(at(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(at(1_795_737_599), "2026-11-26T23:59:59Z");
        assert_eq!(at(4_107_542_400), "2100-03-01T00:00:00Z");
    }
}

//! [`UsageStore`]: the usage rollups table.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use sqlx::PgPool;
use tenancy_core::IdSqlType;
use tenancy_core::rls::{Ident, SettingName};

use super::UsageError;
use crate::UsageLedger;

/// The periods of the rollups.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Granularity {
    /// One row per tenant, metric and flush, in the hour of the flush.
    Hour,
    /// One row per tenant, metric and finished day (UTC).
    Day,
}

impl Granularity {
    /// The name stored in the table: `"hour"` or `"day"`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Hour => "hour",
            Self::Day => "day",
        }
    }
}

/// One line of a usage report: a tenant's total of one metric in a period.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct UsageLine {
    /// The start of the period (an hour or a day).
    pub period_start: SystemTime,
    /// The tenant's id, as PostgreSQL prints it.
    pub tenant: String,
    /// The metric ([`names`](crate::names), for example `"requests"`).
    pub metric: String,
    /// The total.
    pub value: i64,
}

/// Usage rollups in a PostgreSQL table (by default `tenancy_usage`).
///
/// ```no_run
/// use std::time::Duration;
/// use tenancy_metering::postgres::UsageStore;
/// use tenancy_metering::{TenantLabels, UsageLedger};
///
/// # async fn run(meter_pool: sqlx::PgPool) -> Result<(), tenancy_metering::postgres::UsageError> {
/// let ledger = UsageLedger::new(TenantLabels::top(100));
/// // Through the flusher's own role, not the application role.
/// let store = UsageStore::new(meter_pool);
/// // The migration (as the owner): UsageStore::schema_sql("meter", "app")?
/// loop {
///     tokio::time::sleep(Duration::from_secs(60)).await;
///     store.flush(&ledger).await?;
/// }
/// # }
/// ```
#[derive(Debug, Clone)]
pub struct UsageStore {
    pool: PgPool,
    table: Ident,
}

impl UsageStore {
    /// The default table.
    pub const DEFAULT_TABLE: &'static str = "tenancy_usage";

    /// A store in the table `tenancy_usage`, through `pool`.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            table: Ident::new(Self::DEFAULT_TABLE).unwrap_or_else(|_| unreachable!()),
        }
    }

    /// A store in `table` (`name` or `schema.name`).
    pub fn with_table(self, table: &str) -> Result<Self, UsageError> {
        Ok(Self {
            table: Ident::new(table)?,
            ..self
        })
    }

    /// The migration that creates the default table, run as its owner:
    /// the table, its index, the trigger that refuses updates, row-level
    /// security with the default tenant setting, and two roles' grants:
    ///
    /// - `writer_role` (the flusher's pool) may `INSERT` the usage of every
    ///   tenant, and read nothing;
    /// - `reader_role` (the application role) may `SELECT` the usage of the
    ///   tenant its transaction is bound to, and write nothing.
    ///
    /// They must differ: a role that may write every tenant's usage, used to
    /// serve tenant requests, would let code inside one tenant's transaction
    /// (a raw `INSERT`) charge another tenant.
    pub fn schema_sql(writer_role: &str, reader_role: &str) -> Result<String, UsageError> {
        Self::schema_sql_for(
            Self::DEFAULT_TABLE,
            writer_role,
            reader_role,
            &SettingName::default(),
        )
    }

    /// [`schema_sql`](Self::schema_sql) for another table or tenant
    /// setting.
    pub fn schema_sql_for(
        table: &str,
        writer_role: &str,
        reader_role: &str,
        setting: &SettingName,
    ) -> Result<String, UsageError> {
        let table = Ident::new(table)?;
        let writer = Ident::new(writer_role)?;
        let reader = Ident::new(reader_role)?;
        if writer == reader {
            return Err(UsageError::SharedRole(writer_role.to_owned()));
        }
        let name = table.unqualified();
        let t = table.sql();
        let tenant = setting.policy_expr(IdSqlType::Text);
        Ok(format!(
            r#"CREATE TABLE IF NOT EXISTS {t} (
    period_start timestamptz NOT NULL,
    granularity text NOT NULL CHECK (granularity IN ('hour', 'day')),
    tenant text NOT NULL,
    metric text NOT NULL,
    value bigint NOT NULL CHECK (value >= 0),
    recorded_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE INDEX IF NOT EXISTS "{name}_period_idx" ON {t} (granularity, period_start, tenant);
CREATE OR REPLACE FUNCTION "{name}_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'usage rows are append-only: % is refused', TG_OP;
END $$;
DROP TRIGGER IF EXISTS "{name}_append_only" ON {t};
CREATE TRIGGER "{name}_append_only" BEFORE UPDATE ON {t}
    FOR EACH ROW EXECUTE FUNCTION "{name}_append_only"();
ALTER TABLE {t} ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS "{name}_read" ON {t};
CREATE POLICY "{name}_read" ON {t} FOR SELECT TO {reader} USING (tenant = {tenant});
DROP POLICY IF EXISTS "{name}_write" ON {t};
CREATE POLICY "{name}_write" ON {t} FOR INSERT TO {writer} WITH CHECK (true);
REVOKE ALL ON {t} FROM {writer}, {reader};
GRANT INSERT ON {t} TO {writer};
GRANT SELECT ON {t} TO {reader};
"#
        ))
    }

    /// Takes the ledger's usage and inserts it as rows of the current
    /// hour; returns how many rows. If the insert fails, the usage goes back
    /// into the ledger (nothing is lost) and the error is returned.
    pub async fn flush(&self, ledger: &UsageLedger) -> Result<usize, UsageError> {
        let taken = ledger.take();
        let (mut tenants, mut metrics, mut values) = (Vec::new(), Vec::new(), Vec::new());
        for (tenant, usage) in &taken {
            for (metric, value) in usage.metrics() {
                if value > 0 {
                    tenants.push(tenant.to_string());
                    metrics.push(metric);
                    values.push(i64::try_from(value).unwrap_or(i64::MAX));
                }
            }
        }
        if values.is_empty() {
            return Ok(0);
        }
        let sql = format!(
            "INSERT INTO {} (period_start, granularity, tenant, metric, value) \
             SELECT date_trunc('hour', now(), 'UTC'), 'hour', u.tenant, u.metric, u.value \
             FROM unnest($1::text[], $2::text[], $3::int8[]) AS u(tenant, metric, value)",
            self.table.sql()
        );
        let inserted = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(&tenants)
            .bind(&metrics)
            .bind(&values)
            .execute(&self.pool)
            .await;
        match inserted {
            Ok(_) => Ok(values.len()),
            Err(e) => {
                ledger.restore(taken);
                Err(e.into())
            }
        }
    }

    /// Adds a row per tenant, metric and finished day (UTC) that has none
    /// yet, summing the day's hourly rows; returns how many rows. Safe to
    /// run concurrently and repeatedly. Needs to read every tenant's rows:
    /// run it as the table's owner.
    pub async fn roll_up(&self) -> Result<u64, UsageError> {
        let t = self.table.sql();
        let mut tx = self.pool.begin().await?;
        sqlx::query("SELECT pg_advisory_xact_lock(hashtext($1))")
            .bind(self.table.as_str())
            .execute(&mut *tx)
            .await?;
        let sql = format!(
            "INSERT INTO {t} (period_start, granularity, tenant, metric, value) \
             SELECT date_trunc('day', h.period_start, 'UTC'), 'day', h.tenant, h.metric, sum(h.value) \
             FROM {t} h \
             WHERE h.granularity = 'hour' AND h.period_start < date_trunc('day', now(), 'UTC') \
               AND NOT EXISTS (SELECT 1 FROM {t} d WHERE d.granularity = 'day' \
                   AND d.period_start = date_trunc('day', h.period_start, 'UTC')) \
             GROUP BY 1, 3, 4"
        );
        let added = sqlx::query(sqlx::AssertSqlSafe(sql))
            .execute(&mut *tx)
            .await?
            .rows_affected();
        tx.commit().await?;
        Ok(added)
    }

    /// Deletes hourly rows older than `hours` and daily rows older than
    /// `days` (a day's hourly rows only once the day is rolled up); returns
    /// how many rows. Run it as the table's owner.
    pub async fn prune(&self, hours: Duration, days: Duration) -> Result<u64, UsageError> {
        let t = self.table.sql();
        let sql = format!(
            "DELETE FROM {t} h WHERE \
               (h.granularity = 'hour' AND h.period_start < now() - make_interval(secs => $1) \
                AND EXISTS (SELECT 1 FROM {t} d WHERE d.granularity = 'day' \
                    AND d.period_start = date_trunc('day', h.period_start, 'UTC'))) \
               OR (h.granularity = 'day' AND h.period_start < now() - make_interval(secs => $2))"
        );
        Ok(sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(hours.as_secs_f64())
            .bind(days.as_secs_f64())
            .execute(&self.pool)
            .await?
            .rows_affected())
    }

    /// Every tenant's totals per `granularity` period starting in
    /// `[from, to)`, ordered by period, tenant and metric. By day, a day
    /// that is not rolled up yet (today) is summed from its hourly rows.
    /// Through the application role, only the bound tenant's rows are
    /// visible: run it as the owner for every tenant.
    pub async fn report(
        &self,
        granularity: Granularity,
        from: SystemTime,
        to: SystemTime,
    ) -> Result<Vec<UsageLine>, UsageError> {
        let t = self.table.sql();
        let rows_of = match granularity {
            Granularity::Hour => format!(
                "SELECT period_start, tenant, metric, value FROM {t} WHERE granularity = 'hour'"
            ),
            Granularity::Day => format!(
                "SELECT period_start, tenant, metric, value FROM {t} WHERE granularity = 'day' \
                 UNION ALL \
                 SELECT date_trunc('day', h.period_start, 'UTC'), h.tenant, h.metric, h.value \
                 FROM {t} h WHERE h.granularity = 'hour' AND NOT EXISTS \
                   (SELECT 1 FROM {t} d WHERE d.granularity = 'day' \
                      AND d.period_start = date_trunc('day', h.period_start, 'UTC'))"
            ),
        };
        let sql = format!(
            "SELECT extract(epoch FROM period_start)::float8, tenant, metric, sum(value)::int8 \
             FROM ({rows_of}) r \
             WHERE period_start >= to_timestamp($1) AND period_start < to_timestamp($2) \
             GROUP BY 1, 2, 3 ORDER BY 1, 2, 3"
        );
        let rows: Vec<(f64, String, String, i64)> = sqlx::query_as(sqlx::AssertSqlSafe(sql))
            .bind(epoch(from))
            .bind(epoch(to))
            .fetch_all(&self.pool)
            .await?;
        Ok(rows
            .into_iter()
            .map(|(start, tenant, metric, value)| UsageLine {
                period_start: time(start),
                tenant,
                metric,
                value,
            })
            .collect())
    }
}

/// The time `seconds` after (or before, when negative) the Unix epoch.
fn time(seconds: f64) -> SystemTime {
    let span = Duration::try_from_secs_f64(seconds.abs()).unwrap_or(Duration::ZERO);
    if seconds < 0.0 {
        UNIX_EPOCH.checked_sub(span).unwrap_or(UNIX_EPOCH)
    } else {
        UNIX_EPOCH.checked_add(span).unwrap_or(UNIX_EPOCH)
    }
}

/// Seconds since the Unix epoch, negative before it.
fn epoch(time: SystemTime) -> f64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => after.as_secs_f64(),
        Err(before) => -before.duration().as_secs_f64(),
    }
}

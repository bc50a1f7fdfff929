//! The torture run: many tasks, many tenants, random reads and writes
//! through `tenancy-sqlx`, with faults injected, and invariants checked
//! after every operation and at the end.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::{PgPool, Row};
use tenancy_core::rls::{IsolationLevel, TxOptions};
use tenancy_core::{Tenant, TenantId};
use tenancy_sqlx::{Scoped, TenantPool};
use uuid::Uuid;

use crate::fixture::{Orders, World};

/// How hard to push.
#[derive(Debug, Clone)]
pub struct Config {
    /// Concurrent tasks.
    pub tasks: usize,
    /// Operations in all (the run also stops at `time_limit`).
    pub operations: u64,
    /// Connections in the application pool (fewer than tasks: exhaustion).
    pub max_connections: u32,
    /// Seed of the random choices; printed with every failure.
    pub seed: u64,
    /// Upper bound on the run's duration.
    pub time_limit: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            tasks: 64,
            operations: 20_000,
            max_connections: 8,
            seed: 0x7e4a_2c01,
            time_limit: Duration::from_secs(90),
        }
    }
}

/// What the run did and found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// Where the application connected ("PostgreSQL" or "pgbouncer (transaction mode)").
    pub target: String,
    /// Operations run.
    pub operations: u64,
    /// Operations by kind.
    pub by_kind: Vec<(&'static str, u64)>,
    /// Operations that failed with an error (expected under faults).
    pub errors: u64,
    /// Rows in the table at the end.
    pub rows: u64,
    /// Isolation violations found: must be empty.
    pub leaks: Vec<String>,
    /// How long it took.
    pub elapsed: Duration,
}

#[derive(Default)]
struct Ledger {
    /// Ops whose commit succeeded, by tenant.
    committed: HashMap<TenantId, HashSet<Uuid>>,
    /// Ops whose commit outcome is unknown (connection killed mid-commit).
    ambiguous: HashMap<TenantId, HashSet<Uuid>>,
    /// Ops that must never be visible (cancelled, panicked, failed, rolled back).
    discarded: HashSet<Uuid>,
}

const KINDS: [&str; 9] = [
    "insert",
    "read",
    "cross-tenant attack",
    "cancel (timeout or dropped mid-poll)",
    "panic in transaction",
    "statement error",
    "kill backend",
    "rollback",
    "query without tenant on the shared pool",
];

struct Shared {
    pool: TenantPool,
    /// The same pool, used without a tenant (as a tenant directory would).
    raw: PgPool,
    admin: PgPool,
    tenants: Vec<Tenant>,
    ledger: Mutex<Ledger>,
    leaks: Mutex<Vec<String>>,
    counts: [AtomicU64; KINDS.len()],
    errors: AtomicU64,
    next_op: AtomicU64,
}

/// `SplitMix64`: small, seeded, good enough to pick operations.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

const INJECTED_PANIC: &str = "injected panic inside a tenant transaction";

/// Keeps the injected panics out of the output; other panics print as usual.
fn quiet_injected_panics() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        let default = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            if info.payload().downcast_ref::<&str>() != Some(&INJECTED_PANIC) {
                default(info);
            }
        }));
    });
}

/// Runs the torture against the application pool `app` (direct or through
/// pgbouncer) on `world`, with `admin` for the final checks.
pub async fn run(
    world: &World,
    app: PgPool,
    admin: PgPool,
    target: &str,
    config: &Config,
) -> Report {
    quiet_injected_panics();
    let started = Instant::now();
    let shared = Arc::new(Shared {
        pool: TenantPool::new(app.clone()),
        raw: app.clone(),
        admin,
        tenants: world.tenants.clone(),
        ledger: Mutex::new(Ledger::default()),
        leaks: Mutex::new(Vec::new()),
        counts: Default::default(),
        errors: AtomicU64::new(0),
        next_op: AtomicU64::new(0),
    });
    let mut tasks = Vec::new();
    for t in 0..config.tasks {
        let shared = shared.clone();
        let config = config.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(config.seed ^ (t as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
            while shared.next_op.fetch_add(1, Ordering::Relaxed) < config.operations
                && started.elapsed() < config.time_limit
            {
                operation(&shared, &mut rng).await;
            }
        }));
    }
    for task in tasks {
        if let Err(err) = task.await {
            leak(&shared, format!("a torture task died: {err}"));
        }
    }
    let rows = final_checks(&shared, &app, config).await;
    let operations = shared
        .counts
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum();
    let leaks = shared.leaks.lock().map(|l| l.clone()).unwrap_or_default();
    Report {
        seed: config.seed,
        target: target.to_owned(),
        operations,
        by_kind: KINDS
            .iter()
            .zip(&shared.counts)
            .map(|(k, c)| (*k, c.load(Ordering::Relaxed)))
            .collect(),
        errors: shared.errors.load(Ordering::Relaxed),
        rows,
        leaks,
        elapsed: started.elapsed(),
    }
}

fn leak(shared: &Shared, what: String) {
    if let Ok(mut leaks) = shared.leaks.lock() {
        leaks.push(what);
    }
}

fn record(shared: &Shared, f: impl FnOnce(&mut Ledger)) {
    if let Ok(mut ledger) = shared.ledger.lock() {
        f(&mut ledger);
    }
}

async fn operation(shared: &Shared, rng: &mut Rng) {
    #[allow(clippy::cast_possible_truncation)] // below(len) fits in usize
    let tenant = &shared.tenants[rng.below(shared.tenants.len() as u64) as usize];
    let roll = rng.below(100);
    let kind = match roll {
        0..32 => 0,
        32..52 => 1,
        52..60 => 2,
        60..74 => 3,
        74..78 => 4,
        78..83 => 5,
        83..85 => 6,
        85..90 => 7,
        _ => 8,
    };
    shared.counts[kind].fetch_add(1, Ordering::Relaxed);
    let op = Uuid::new_v4();
    let result = match kind {
        0 => insert(shared, tenant, op).await,
        1 => read(shared, tenant).await,
        2 => attack(shared, tenant, rng).await,
        3 => cancel(shared, tenant, op, rng).await,
        4 => panic_inside(shared, tenant, op).await,
        5 => statement_error(shared, tenant, op).await,
        6 => kill_backend(shared).await,
        7 => rollback(shared, tenant, op).await,
        _ => no_tenant(shared).await,
    };
    if result.is_err() {
        shared.errors.fetch_add(1, Ordering::Relaxed);
    }
}

type OpResult = Result<(), tenancy_sqlx::Error>;

async fn insert_row(tx: &mut tenancy_sqlx::TenantTx, tenant: &Tenant, op: Uuid) -> OpResult {
    Scoped::<Orders>::insert()
        .value("op", op)
        .for_tenant(tenant)
        .execute(tx)
        .await
        .map(drop)
}

async fn insert(shared: &Shared, tenant: &Tenant, op: Uuid) -> OpResult {
    let mut tx = shared.pool.begin(tenant).await?;
    if let Err(err) = insert_row(&mut tx, tenant, op).await {
        record(shared, |l| {
            l.discarded.insert(op);
        });
        return Err(err);
    }
    match tx.commit().await {
        Ok(()) => {
            record(shared, |l| {
                l.committed.entry(tenant.id()).or_default().insert(op);
            });
            Ok(())
        }
        Err(err) => {
            record(shared, |l| {
                l.ambiguous.entry(tenant.id()).or_default().insert(op);
            });
            Err(err)
        }
    }
}

async fn read(shared: &Shared, tenant: &Tenant) -> OpResult {
    // One snapshot for both statements, so they must agree exactly.
    let snapshot = TxOptions::default().isolation(IsolationLevel::RepeatableRead);
    let mut tx = shared.pool.begin_with(tenant, &snapshot).await?;
    let owners: Vec<Uuid> = sqlx::query_scalar("SELECT tenant_id FROM orders")
        .fetch_all(&mut *tx)
        .await?;
    if let Some(other) = owners.iter().find(|o| *o != tenant.id().as_uuid()) {
        leak(
            shared,
            format!(
                "tenant {} saw a row of tenant {other} with a raw SELECT",
                tenant.id()
            ),
        );
    }
    let scoped = Scoped::<Orders>::select()
        .for_tenant(tenant)
        .count(&mut tx)
        .await?;
    if usize::try_from(scoped).ok() != Some(owners.len()) {
        leak(
            shared,
            format!(
                "tenant {}: scoped count {scoped} differs from RLS count {}",
                tenant.id(),
                owners.len()
            ),
        );
    }
    tx.commit().await
}

async fn attack(shared: &Shared, tenant: &Tenant, rng: &mut Rng) -> OpResult {
    #[allow(clippy::cast_possible_truncation)]
    let victim = &shared.tenants[rng.below(shared.tenants.len() as u64) as usize];
    if victim.id() == tenant.id() {
        return Ok(());
    }
    let mut tx = shared.pool.begin(tenant).await?;
    let seen: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE tenant_id = $1")
        .bind(victim.id().as_uuid())
        .fetch_one(&mut *tx)
        .await?;
    let changed = sqlx::query("UPDATE orders SET quantity = quantity + 1 WHERE tenant_id = $1")
        .bind(victim.id().as_uuid())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if seen != 0 || changed != 0 {
        leak(
            shared,
            format!(
                "tenant {} saw {seen} and changed {changed} rows of tenant {}",
                tenant.id(),
                victim.id()
            ),
        );
    }
    let planted = sqlx::query("INSERT INTO orders (tenant_id, op) VALUES ($1, $2)")
        .bind(victim.id().as_uuid())
        .bind(Uuid::new_v4())
        .execute(&mut *tx)
        .await;
    if planted.is_ok() {
        leak(
            shared,
            format!(
                "tenant {} inserted a row for tenant {}",
                tenant.id(),
                victim.id()
            ),
        );
    }
    Ok(()) // the transaction is aborted (or poisoned): dropped, rolled back
}

async fn cancel(shared: &Shared, tenant: &Tenant, op: Uuid, rng: &mut Rng) -> OpResult {
    record(shared, |l| {
        l.discarded.insert(op);
    });
    let work = async {
        let mut tx = shared.pool.begin(tenant).await?;
        insert_row(&mut tx, tenant, op).await?;
        sqlx::query("SELECT pg_sleep(0.005)")
            .execute(&mut *tx)
            .await?;
        // Never committed: whatever happens, the op must stay invisible.
        Ok::<_, tenancy_sqlx::Error>(())
    };
    if rng.below(2) == 0 {
        let _ = tokio::time::timeout(Duration::from_micros(rng.below(3_000)), work).await;
    } else {
        // Poll a few times, letting I/O progress in between, then drop it:
        // this lands inside `begin` (sent, reply not read) far more often
        // than a millisecond timer does.
        let mut work = std::pin::pin!(work);
        for _ in 0..=rng.below(8) {
            let polled =
                std::future::poll_fn(|cx| std::task::Poll::Ready(work.as_mut().poll(cx))).await;
            if polled.is_ready() {
                break;
            }
            tokio::task::yield_now().await;
        }
    }
    Ok(())
}

async fn no_tenant(shared: &Shared) -> OpResult {
    let (setting, rows): (Option<String>, i64) = sqlx::query_as(
        "SELECT current_setting('app.tenant_id', true), (SELECT count(*) FROM orders)",
    )
    .fetch_one(&shared.raw)
    .await?;
    if rows != 0 || !setting.as_deref().unwrap_or("").is_empty() {
        leak(
            shared,
            format!("a query without a tenant saw {rows} rows (setting {setting:?})"),
        );
    }
    Ok(())
}

async fn panic_inside(shared: &Shared, tenant: &Tenant, op: Uuid) -> OpResult {
    record(shared, |l| {
        l.discarded.insert(op);
    });
    let pool = shared.pool.clone();
    let tenant = tenant.clone();
    let joined = tokio::spawn(async move {
        if let Ok(mut tx) = pool.begin(&tenant).await {
            let _ = insert_row(&mut tx, &tenant, op).await;
            std::panic::panic_any(INJECTED_PANIC);
        }
    })
    .await;
    if !joined.as_ref().is_err_and(tokio::task::JoinError::is_panic) {
        // begin failed (killed connection, exhausted pool): nothing to panic in.
    }
    Ok(())
}

async fn statement_error(shared: &Shared, tenant: &Tenant, op: Uuid) -> OpResult {
    record(shared, |l| {
        l.discarded.insert(op);
    });
    let mut tx = shared.pool.begin(tenant).await?;
    insert_row(&mut tx, tenant, op).await?;
    sqlx::query("SELECT 1 / 0").execute(&mut *tx).await?;
    Ok(())
}

async fn rollback(shared: &Shared, tenant: &Tenant, op: Uuid) -> OpResult {
    record(shared, |l| {
        l.discarded.insert(op);
    });
    let mut tx = shared.pool.begin(tenant).await?;
    insert_row(&mut tx, tenant, op).await?;
    tx.rollback().await
}

async fn kill_backend(shared: &Shared) -> OpResult {
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE usename = 'tenancy_app' AND datname = current_database()
         ORDER BY random() LIMIT 1",
    )
    .execute(&shared.admin)
    .await?;
    Ok(())
}

/// The end-of-run invariants; returns the number of rows.
async fn final_checks(shared: &Shared, app: &PgPool, config: &Config) -> u64 {
    let rows: Vec<(Uuid, Uuid)> = match sqlx::query_as("SELECT tenant_id, op FROM orders")
        .fetch_all(&shared.admin)
        .await
    {
        Ok(rows) => rows,
        Err(err) => {
            leak(
                shared,
                format!("final check could not read the table: {err}"),
            );
            return 0;
        }
    };
    verify_ledger(shared, &rows);
    check_pool_is_clean(shared, app, config).await;
    rows.len() as u64
}

/// Every row belongs to the tenant whose operation wrote it; every committed
/// write is there; no discarded write is.
fn verify_ledger(shared: &Shared, rows: &[(Uuid, Uuid)]) {
    let Ok(ledger) = shared.ledger.lock() else {
        leak(shared, "the ledger is poisoned".into());
        return;
    };
    let mut owner_of: HashMap<Uuid, TenantId> = HashMap::new();
    for (tenant, ops) in ledger.committed.iter().chain(&ledger.ambiguous) {
        for op in ops {
            owner_of.insert(*op, *tenant);
        }
    }
    let mut found: HashSet<Uuid> = HashSet::new();
    for (tenant, op) in rows {
        found.insert(*op);
        match owner_of.get(op) {
            Some(owner) if owner.as_uuid() == tenant => {}
            Some(owner) => leak(
                shared,
                format!("op {op} of tenant {owner} landed in tenant {tenant}"),
            ),
            None if ledger.discarded.contains(op) => {
                leak(
                    shared,
                    format!(
                        "op {op} was cancelled, panicked, failed or rolled back, yet it is in the table"
                    ),
                );
            }
            None => leak(
                shared,
                format!("row of op {op} (tenant {tenant}) was written by nobody's operation"),
            ),
        }
    }
    for (tenant, ops) in &ledger.committed {
        for op in ops.iter().filter(|op| !found.contains(op)) {
            leak(
                shared,
                format!("committed op {op} of tenant {tenant} is missing"),
            );
        }
    }
}

/// Takes every connection of the pool at once and checks each carries no
/// tenant and no transaction.
async fn check_pool_is_clean(shared: &Shared, app: &PgPool, config: &Config) {
    let mut held = Vec::new();
    for _ in 0..config.max_connections {
        match app.acquire().await {
            Ok(conn) => held.push(conn),
            Err(err) => leak(
                shared,
                format!("could not take a pooled connection back after the run: {err}"),
            ),
        }
    }
    for conn in &mut held {
        // Simple protocol (one message): outside a transaction the statement
        // starts exactly when its implicit transaction does.
        let row = sqlx::raw_sql(
            "SELECT current_setting('app.tenant_id', true), now() <> statement_timestamp()",
        )
        .fetch_one(&mut **conn)
        .await
        .map(|row| (row.get::<Option<String>, _>(0), row.get::<bool, _>(1)));
        match row {
            Ok((setting, in_tx)) => {
                if !setting.as_deref().unwrap_or("").is_empty() || in_tx {
                    leak(
                        shared,
                        format!(
                            "a pooled connection carries tenant {setting:?} (in transaction: {in_tx})"
                        ),
                    );
                }
            }
            Err(err) => leak(
                shared,
                format!("a pooled connection is unusable after the run: {err}"),
            ),
        }
    }
}

impl Report {
    /// The report as a Markdown section.
    pub fn to_markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "### Through {}\n\n| | |\n|---|---|\n| operations | {} in {:.1} s ({} tasks over {} connections) |\n| seed | `{:#x}` |\n",
            self.target,
            self.operations,
            self.elapsed.as_secs_f64(),
            Config::default().tasks,
            Config::default().max_connections,
            self.seed
        );
        for (kind, n) in &self.by_kind {
            let _ = writeln!(out, "| {kind} | {n} |");
        }
        let _ = writeln!(
            out,
            "| operations that failed (expected under faults) | {} |",
            self.errors
        );
        let _ = writeln!(out, "| rows at the end | {} |", self.rows);
        let _ = writeln!(out, "| **leaks found** | **{}** |", self.leaks.len());
        for leak in &self.leaks {
            let _ = writeln!(out, "\n- LEAK: {leak}");
        }
        out
    }
}

//! The torture run: many tasks, many tenants, random reads and writes
//! through a database layer ([`Backend`]: `tenancy-sqlx` or
//! `tenancy-diesel`), with faults injected, and invariants checked after
//! every operation and at the end.

use std::collections::{HashMap, HashSet};
use std::future::Future;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use sqlx::PgPool;
use tenancy_core::{Tenant, TenantId};
use uuid::Uuid;

use crate::backend::{Backend, Commit, End, INJECTED_PANIC};
use crate::fixture::World;

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
    /// Whether the table is under row-level security. Without it the run
    /// tests the type-level wall alone: the operations whose checks rely on
    /// RLS (raw reads, cross-tenant attacks in raw SQL, queries without a
    /// tenant) become scoped reads, checked against the ledger.
    pub rls: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            tasks: 64,
            operations: 20_000,
            max_connections: 8,
            seed: 0x7e4a_2c01,
            time_limit: Duration::from_secs(90),
            rls: true,
        }
    }
}

/// What the run did and found.
#[derive(Debug, Clone, Default)]
pub struct Report {
    /// The seed.
    pub seed: u64,
    /// The database layer and where it connected.
    pub target: String,
    /// Operations run.
    pub operations: u64,
    /// Operations by kind: (kind, ran, failed with an error, checks completed).
    pub by_kind: Vec<KindReport>,
    /// Operations that failed with an error (expected under faults).
    pub errors: u64,
    /// The most frequent error messages (digits masked), with their counts.
    pub top_errors: Vec<(String, u64)>,
    /// Rows in the table at the end.
    pub rows: u64,
    /// Isolation violations found: must be empty.
    pub leaks: Vec<String>,
    /// How long it took.
    pub elapsed: Duration,
}

/// One kind of operation in a [`Report`].
#[derive(Debug, Clone, Copy, Default)]
pub struct KindReport {
    /// The kind.
    pub kind: &'static str,
    /// How many ran.
    pub ran: u64,
    /// How many failed with an error (expected under faults; their checks
    /// did not run).
    pub failed: u64,
    /// How many completed their isolation checks (0 for kinds checked only
    /// at the end, against the ledger).
    pub checked: u64,
}

#[derive(Default)]
struct Ledger {
    /// Every write attempted, by operation: the tenant it was for.
    intended: HashMap<Uuid, TenantId>,
    /// Ops whose commit succeeded, by tenant.
    committed: HashMap<TenantId, HashSet<Uuid>>,
    /// Ops whose commit outcome is unknown (connection killed mid-commit).
    ambiguous: HashMap<TenantId, HashSet<Uuid>>,
    /// Ops that must never be visible (cancelled, panicked, failed, rolled back).
    discarded: HashSet<Uuid>,
}

const KINDS: [&str; 10] = [
    "insert",
    "read",
    "cross-tenant attack",
    "cancel (timeout or dropped mid-poll)",
    "panic in transaction",
    "statement error",
    "kill backend",
    "rollback",
    "query without tenant on the shared pool",
    "raw-SQL attack on the next user (temp table, session SET, options)",
];

struct Shared<B> {
    backend: B,
    admin: PgPool,
    database: String,
    tenants: Vec<Tenant>,
    ledger: Mutex<Ledger>,
    leaks: Mutex<Vec<String>>,
    counts: [AtomicU64; KINDS.len()],
    failed: [AtomicU64; KINDS.len()],
    checked: [AtomicU64; KINDS.len()],
    rls: bool,
    errors: AtomicU64,
    error_messages: Mutex<HashMap<String, u64>>,
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

    fn pick<'t>(&mut self, tenants: &'t [Tenant]) -> &'t Tenant {
        let n = u64::try_from(tenants.len()).unwrap_or(1).max(1);
        let i = usize::try_from(self.below(n)).unwrap_or(0);
        &tenants[i]
    }
}

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

/// No single operation may take longer: a hang is reported, not waited out.
const OPERATION_LIMIT: Duration = Duration::from_secs(30);

/// Runs the torture through `backend` on `world`, with `admin` (a
/// superuser pool) for killing backends and for the final checks.
pub async fn run<B: Backend>(
    world: &World,
    backend: B,
    admin: PgPool,
    target: &str,
    config: &Config,
) -> Report {
    quiet_injected_panics();
    let started = Instant::now();
    let shared = Arc::new(Shared {
        backend,
        admin,
        database: world.db.name().to_owned(),
        tenants: world.tenants.clone(),
        ledger: Mutex::new(Ledger::default()),
        leaks: Mutex::new(Vec::new()),
        counts: Default::default(),
        failed: Default::default(),
        checked: Default::default(),
        rls: config.rls,
        errors: AtomicU64::new(0),
        error_messages: Mutex::default(),
        next_op: AtomicU64::new(0),
    });
    let mut tasks = Vec::new();
    for t in 0..config.tasks {
        let shared = shared.clone();
        let config = config.clone();
        tasks.push(tokio::spawn(async move {
            let mut rng = Rng(config.seed ^ (t as u64).wrapping_mul(0x2545_f491_4f6c_dd1d));
            while shared.next_op.fetch_add(1, Ordering::Relaxed) < config.operations && started.elapsed() < config.time_limit {
                if tokio::time::timeout(OPERATION_LIMIT, operation(&shared, &mut rng)).await.is_err() {
                    leak(&shared, format!("an operation hung for {OPERATION_LIMIT:?} (pool exhausted by leaked connections?)"));
                    break;
                }
            }
        }));
    }
    for task in tasks {
        if let Err(err) = task.await {
            leak(&shared, format!("a torture task died: {err}"));
        }
    }
    let rows = final_checks(&shared).await;
    let operations = shared
        .counts
        .iter()
        .map(|c| c.load(Ordering::Relaxed))
        .sum();
    let leaks = shared.leaks.lock().map(|l| l.clone()).unwrap_or_default();
    Report {
        seed: config.seed,
        target: format!("{}, {target}", shared.backend.name()),
        operations,
        by_kind: KINDS
            .iter()
            .enumerate()
            .map(|(i, kind)| KindReport {
                kind,
                ran: shared.counts[i].load(Ordering::Relaxed),
                failed: shared.failed[i].load(Ordering::Relaxed),
                checked: shared.checked[i].load(Ordering::Relaxed),
            })
            .collect(),
        errors: shared.errors.load(Ordering::Relaxed),
        top_errors: top_errors(&shared.error_messages, 5),
        rows,
        leaks,
        elapsed: started.elapsed(),
    }
}

fn leak<B>(shared: &Shared<B>, what: String) {
    if let Ok(mut leaks) = shared.leaks.lock() {
        leaks.push(what);
    }
}

fn record<B>(shared: &Shared<B>, f: impl FnOnce(&mut Ledger)) {
    if let Ok(mut ledger) = shared.ledger.lock() {
        f(&mut ledger);
    }
}

/// Records that `op` is a write for `tenant`, before it is attempted.
fn intend<B>(shared: &Shared<B>, tenant: &Tenant, op: Uuid) {
    record(shared, |l| {
        l.intended.insert(op, tenant.id());
    });
}

/// Records a write for `tenant` that must never become visible.
fn discard<B>(shared: &Shared<B>, tenant: &Tenant, op: Uuid) {
    record(shared, |l| {
        l.intended.insert(op, tenant.id());
        l.discarded.insert(op);
    });
}

/// Counts a completed isolation check of operation kind `kind`.
fn checked<B>(shared: &Shared<B>, kind: usize) {
    shared.checked[kind].fetch_add(1, Ordering::Relaxed);
}

async fn operation<B: Backend>(shared: &Shared<B>, rng: &mut Rng) {
    let tenant = rng.pick(&shared.tenants).clone();
    let kind = match rng.below(100) {
        0..30 => 0,
        30..33 => 9,
        33..52 => 1,
        52..60 => 2,
        60..74 => 3,
        74..78 => 4,
        78..83 => 5,
        83..85 => 6,
        85..90 => 7,
        _ => 8,
    };
    // Without RLS, the checks of raw reads, raw attacks and queries without
    // a tenant would only show that RLS is off: scoped reads instead.
    let kind = if !shared.rls && matches!(kind, 2 | 8) {
        1
    } else {
        kind
    };
    shared.counts[kind].fetch_add(1, Ordering::Relaxed);
    let op = Uuid::new_v4();
    let result = match kind {
        0 => insert(shared, &tenant, op).await,
        1 => read(shared, &tenant).await,
        2 => {
            let victim = rng.pick(&shared.tenants).clone();
            attack(shared, &tenant, &victim).await
        }
        3 => cancel(shared, &tenant, op, rng).await,
        4 => panic_inside(shared, &tenant, op).await,
        5 => {
            discard(shared, &tenant, op);
            shared
                .backend
                .uncommitted(&tenant, op, End::StatementError)
                .await
        }
        6 => kill_backend(shared).await,
        7 => {
            discard(shared, &tenant, op);
            shared.backend.uncommitted(&tenant, op, End::Rollback).await
        }
        8 => no_tenant(shared).await,
        _ => {
            let victim = rng.pick(&shared.tenants).clone();
            raw_sql_attack(shared, &tenant, &victim).await
        }
    };
    if let Err(err) = result {
        shared.errors.fetch_add(1, Ordering::Relaxed);
        shared.failed[kind].fetch_add(1, Ordering::Relaxed);
        let masked: String = err
            .chars()
            .map(|c| if c.is_ascii_digit() { '#' } else { c })
            .collect();
        if let Ok(mut messages) = shared.error_messages.lock() {
            *messages.entry(masked).or_default() += 1;
        }
    }
}

fn top_errors(messages: &Mutex<HashMap<String, u64>>, n: usize) -> Vec<(String, u64)> {
    let Ok(messages) = messages.lock() else {
        return Vec::new();
    };
    let mut all: Vec<_> = messages.iter().map(|(m, c)| (m.clone(), *c)).collect();
    all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    all.truncate(n);
    all
}

type OpResult = Result<(), String>;

async fn insert<B: Backend>(shared: &Shared<B>, tenant: &Tenant, op: Uuid) -> OpResult {
    intend(shared, tenant, op);
    match shared.backend.insert(tenant, op).await {
        Ok(Commit::Committed) => {
            record(shared, |l| {
                l.committed.entry(tenant.id()).or_default().insert(op);
            });
            Ok(())
        }
        Ok(Commit::Ambiguous) => {
            record(shared, |l| {
                l.ambiguous.entry(tenant.id()).or_default().insert(op);
            });
            Err("commit failed".to_owned())
        }
        Err(err) => {
            discard(shared, tenant, op);
            Err(err)
        }
    }
}

async fn read<B: Backend>(shared: &Shared<B>, tenant: &Tenant) -> OpResult {
    // Committed before the read began, so inside its snapshot.
    let committed_before: Vec<Uuid> = shared
        .ledger
        .lock()
        .map(|l| {
            l.committed
                .get(&tenant.id())
                .map(|ops| ops.iter().copied().collect())
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let read = shared.backend.read(tenant).await?;
    if shared.rls
        && let Some(other) = read.raw_owners.iter().find(|o| *o != tenant.id().as_uuid())
    {
        leak(
            shared,
            format!(
                "tenant {} saw a row of tenant {other} with a raw SELECT",
                tenant.id()
            ),
        );
    }
    check_scoped_rows(shared, tenant, &read.scoped, &committed_before);
    checked(shared, 1);
    Ok(())
}

/// The scoped builder's rows against the ledger, not against the database
/// it ran on: each row is the tenant's (its column, and the operation that
/// wrote it), none was discarded, and every write committed before the read
/// is there.
fn check_scoped_rows<B>(
    shared: &Shared<B>,
    tenant: &Tenant,
    rows: &[(Uuid, Uuid)],
    committed_before: &[Uuid],
) {
    let Ok(ledger) = shared.ledger.lock() else {
        leak(shared, "the ledger is poisoned".into());
        return;
    };
    let mut problems = Vec::new();
    for (op, owner) in rows {
        if owner != tenant.id().as_uuid() {
            problems.push(format!(
                "the scoped builder returned a row of tenant {owner}"
            ));
        }
        match ledger.intended.get(op) {
            Some(writer) if *writer == tenant.id() => {}
            Some(writer) => problems.push(format!(
                "the scoped builder returned op {op}, written for tenant {writer}"
            )),
            None => problems.push(format!(
                "the scoped builder returned op {op}, which no operation wrote"
            )),
        }
        if ledger.discarded.contains(op) {
            problems.push(format!(
                "the scoped builder returned op {op}, which was never committed"
            ));
        }
    }
    let seen: HashSet<&Uuid> = rows.iter().map(|(op, _)| op).collect();
    if let Some(missing) = committed_before.iter().find(|op| !seen.contains(op)) {
        problems.push(format!(
            "the scoped builder missed op {missing}, committed before the read"
        ));
    }
    drop(ledger);
    for problem in problems {
        leak(shared, format!("tenant {}: {problem}", tenant.id()));
    }
}

async fn attack<B: Backend>(shared: &Shared<B>, tenant: &Tenant, victim: &Tenant) -> OpResult {
    if victim.id() == tenant.id() {
        return Ok(());
    }
    let (seen, changed, planted) = shared.backend.attack(tenant, victim).await?;
    if seen != 0 || changed != 0 || planted {
        leak(
            shared,
            format!(
                "tenant {} saw {seen}, changed {changed} rows of tenant {} (planted a row: {planted})",
                tenant.id(),
                victim.id()
            ),
        );
    }
    checked(shared, 2);
    Ok(())
}

/// The effects on later users of the connection are checked by every other
/// operation: a captured insert is missing from the table at the end, a
/// session tenant shows in the queries without a tenant and in the pooled
/// connections' settings.
async fn raw_sql_attack<B: Backend>(
    shared: &Shared<B>,
    tenant: &Tenant,
    victim: &Tenant,
) -> OpResult {
    if victim.id() == tenant.id() {
        return Ok(());
    }
    if shared.backend.raw_sql_attack(tenant, victim).await? {
        leak(
            shared,
            format!(
                "tenant {}: transaction options naming tenant {} were accepted",
                tenant.id(),
                victim.id()
            ),
        );
    }
    checked(shared, 9);
    Ok(())
}

async fn cancel<B: Backend>(
    shared: &Shared<B>,
    tenant: &Tenant,
    op: Uuid,
    rng: &mut Rng,
) -> OpResult {
    discard(shared, tenant, op);
    let work = shared.backend.uncommitted(tenant, op, End::Sleep);
    if rng.below(2) == 0 {
        let _ = tokio::time::timeout(Duration::from_micros(rng.below(3_000)), work).await;
    } else {
        // Poll a few times, letting I/O progress in between, then drop it:
        // this lands inside `begin` (sent, reply not read) more often than a
        // millisecond timer does.
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

async fn panic_inside<B: Backend>(shared: &Shared<B>, tenant: &Tenant, op: Uuid) -> OpResult {
    discard(shared, tenant, op);
    let backend = shared.backend.clone();
    let tenant = tenant.clone();
    // The spawned task panics with the transaction open (or fails before).
    let _ = tokio::spawn(async move { backend.uncommitted(&tenant, op, End::Panic).await }).await;
    Ok(())
}

async fn no_tenant<B: Backend>(shared: &Shared<B>) -> OpResult {
    let (setting, rows) = shared.backend.no_tenant().await?;
    if rows != 0 || !setting.as_deref().unwrap_or("").is_empty() {
        leak(
            shared,
            format!("a query without a tenant saw {rows} rows (setting {setting:?})"),
        );
    }
    checked(shared, 8);
    Ok(())
}

async fn kill_backend<B>(shared: &Shared<B>) -> OpResult {
    sqlx::query(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE usename = 'tenancy_app' AND datname = current_database()
         ORDER BY random() LIMIT 1",
    )
    .execute(&shared.admin)
    .await
    .map(drop)
    .map_err(|e| e.to_string())
}

/// The end-of-run invariants; returns the number of rows.
async fn final_checks<B: Backend>(shared: &Shared<B>) -> u64 {
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
    check_connections(shared).await;
    rows.len() as u64
}

/// Every row belongs to the tenant whose operation wrote it; every committed
/// write is there; no discarded write is.
fn verify_ledger<B>(shared: &Shared<B>, rows: &[(Uuid, Uuid)]) {
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

/// No connection of the app role is inside a transaction (seen by the
/// server; connections being closed are given a moment to go), and every
/// pooled connection carries no tenant.
async fn check_connections<B: Backend>(shared: &Shared<B>) {
    let query = "SELECT count(*) FROM pg_stat_activity
                 WHERE usename = 'tenancy_app' AND datname = $1 AND state LIKE '%transaction%'";
    let mut in_transaction: i64 = 0;
    for _ in 0..100 {
        in_transaction = sqlx::query_scalar(query)
            .bind(&shared.database)
            .fetch_one(&shared.admin)
            .await
            .unwrap_or(-1);
        if in_transaction == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    if in_transaction != 0 {
        leak(
            shared,
            format!("{in_transaction} app connection(s) left inside a transaction"),
        );
    }
    match shared.backend.pooled_settings().await {
        Ok(settings) => {
            for setting in settings
                .iter()
                .filter(|s| !s.as_deref().unwrap_or("").is_empty())
            {
                leak(
                    shared,
                    format!("a pooled connection carries tenant {setting:?}"),
                );
            }
        }
        Err(err) => leak(
            shared,
            format!("could not take the pooled connections back after the run: {err}"),
        ),
    }
}

impl Report {
    /// The report as a Markdown section.
    pub fn to_markdown(&self) -> String {
        use std::fmt::Write as _;
        let mut out = format!(
            "### {}\n\n| | |\n|---|---|\n| operations | {} in {:.1} s ({} tasks over {} connections) |\n| seed | `{:#x}` |\n",
            self.target,
            self.operations,
            self.elapsed.as_secs_f64(),
            Config::default().tasks,
            Config::default().max_connections,
            self.seed
        );
        let _ = writeln!(
            out,
            "| operations that failed (expected under faults) | {} |",
            self.errors
        );
        let _ = writeln!(out, "| rows at the end | {} |", self.rows);
        let _ = writeln!(out, "| **leaks found** | **{}** |", self.leaks.len());
        let _ = writeln!(
            out,
            "\n| operation | ran | failed (expected under faults) | isolation checks completed |\n|---|---|---|---|"
        );
        for k in &self.by_kind {
            let checked = if k.checked == 0 {
                "at the end, against the ledger".to_owned()
            } else {
                k.checked.to_string()
            };
            let _ = writeln!(out, "| {} | {} | {} | {checked} |", k.kind, k.ran, k.failed);
        }
        for leak in &self.leaks {
            let _ = writeln!(out, "\n- LEAK: {leak}");
        }
        if !self.top_errors.is_empty() {
            let _ = writeln!(out, "\nMost frequent errors (digits masked):\n");
            for (message, n) in &self.top_errors {
                let message = message.replace('|', "\\|").replace('\n', " ");
                let _ = writeln!(out, "- {n} × `{message}`");
            }
        }
        out
    }
}

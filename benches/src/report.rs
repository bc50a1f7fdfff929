//! `BENCHMARKS.md`: the targets of issue 8 with what was measured (ratios
//! first), then every absolute number.

use std::fmt::Write as _;
use std::path::Path;

use crate::estimates::Estimate;

/// What a measurement is compared against.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    /// Throughput ratio (baseline time / case time) at least this.
    ThroughputAtLeast(f64),
    /// Time ratio (case time / baseline time) at most this.
    TimeAtMost(f64),
    /// Shown for comparison, no target.
    None,
}

/// One comparison: a case against its baseline, both criterion ids.
#[derive(Debug, Clone, Copy)]
pub struct Comparison {
    /// What it shows, for the reader.
    pub label: &'static str,
    /// The baseline's criterion id.
    pub baseline: &'static str,
    /// The case's criterion id.
    pub case: &'static str,
    /// The target.
    pub target: Target,
}

const fn cmp(
    label: &'static str,
    baseline: &'static str,
    case: &'static str,
    target: Target,
) -> Comparison {
    Comparison {
        label,
        baseline,
        case,
        target,
    }
}

/// Every comparison the report makes, in the order of issue 8.
pub const COMPARISONS: &[Comparison] = &[
    cmp(
        "sqlx: `TenantPool::begin` + select + commit",
        "sqlx_tx/plain",
        "sqlx_tx/tenant_tx",
        Target::ThroughputAtLeast(0.95),
    ),
    cmp(
        "sqlx: the same through the `Scoped` builder",
        "sqlx_tx/plain",
        "sqlx_tx/tenant_tx_builder",
        Target::ThroughputAtLeast(0.95),
    ),
    cmp(
        "sqlx: naive separate `set_config` round trip",
        "sqlx_tx/plain",
        "sqlx_tx/naive_set_config",
        Target::None,
    ),
    cmp(
        "sqlx: a metered `TenantPool` (`TxMeter`: tenant, time, outcome) vs unmetered",
        "sqlx_tx/tenant_tx",
        "sqlx_tx/tenant_tx_metered",
        Target::None,
    ),
    cmp(
        "sqlx: a metered `TenantPool` also counting rows written (2 tables) vs unmetered",
        "sqlx_tx/tenant_tx",
        "sqlx_tx/tenant_tx_metered_rows",
        Target::None,
    ),
    cmp(
        "diesel (r2d2): `TenantPool::transaction` + `for_tenant`",
        "diesel_tx/plain",
        "diesel_tx/tenant_tx",
        Target::ThroughputAtLeast(0.95),
    ),
    cmp(
        "diesel-async: `AsyncTenantPool::begin` + `for_tenant`",
        "diesel_async_tx/plain",
        "diesel_async_tx/tenant_tx",
        Target::ThroughputAtLeast(0.95),
    ),
    cmp(
        "RLS select, generated policy",
        "rls_select/explicit_where",
        "rls_select/generated_policy",
        Target::TimeAtMost(1.10),
    ),
    cmp(
        "RLS select, naive policy",
        "rls_select/explicit_where",
        "rls_select/naive_policy",
        Target::None,
    ),
    cmp(
        "RLS aggregate, generated policy",
        "rls_aggregate/explicit_where",
        "rls_aggregate/generated_policy",
        Target::TimeAtMost(1.10),
    ),
    cmp(
        "RLS aggregate, naive policy",
        "rls_aggregate/explicit_where",
        "rls_aggregate/naive_policy",
        Target::None,
    ),
    cmp(
        "RLS aggregate without index, generated policy",
        "rls_aggregate_no_index/explicit_where",
        "rls_aggregate_no_index/generated_policy",
        Target::TimeAtMost(1.10),
    ),
    cmp(
        "RLS aggregate without index, naive policy",
        "rls_aggregate_no_index/explicit_where",
        "rls_aggregate_no_index/naive_policy",
        Target::None,
    ),
    cmp(
        "sealed tier: a shared tenant on a table that also has the sealed policies",
        "sealed_tx/shared",
        "sealed_tx/shared_next_to_sealed",
        Target::None,
    ),
    cmp(
        "sealed tier: a sealed tenant on its own warm pool vs a shared tenant",
        "sealed_tx/shared",
        "sealed_tx/sealed",
        Target::None,
    ),
    cmp(
        "sealed tier through pgbouncer (transaction mode, SCRAM): sealed vs shared",
        "sealed_tx/pgbouncer_shared",
        "sealed_tx/pgbouncer_sealed",
        Target::None,
    ),
    cmp(
        "sealed tier: first transaction of a cold sealed tenant (connect with SCRAM) vs a cold shared connection (trust)",
        "sealed_cold/shared",
        "sealed_cold/sealed",
        Target::None,
    ),
    cmp(
        "2 concurrent clients, tenant tx vs plain",
        "concurrency/plain/2",
        "concurrency/tenant_tx/2",
        Target::ThroughputAtLeast(0.95),
    ),
    cmp(
        "8 concurrent clients, tenant tx vs plain",
        "concurrency/plain/8",
        "concurrency/tenant_tx/8",
        Target::ThroughputAtLeast(0.95),
    ),
    cmp(
        "32 concurrent clients, tenant tx vs plain",
        "concurrency/plain/32",
        "concurrency/tenant_tx/32",
        Target::ThroughputAtLeast(0.95),
    ),
];

/// A middleware case against its baseline.
struct Middleware {
    case: &'static str,
    baseline: &'static str,
    /// The layer measured.
    layer: &'static str,
    label: &'static str,
    /// The most time it may add, in nanoseconds.
    max_ns: f64,
    /// The most heap allocations it may add per request.
    max_allocations: f64,
}

const TENANT_LAYER: &str = "`TenantLayer`";

/// The middleware cases.
const MIDDLEWARE: [Middleware; 5] = [
    Middleware {
        case: "header",
        baseline: "baseline",
        layer: TENANT_LAYER,
        label: "`X-Tenant` header, bare tower service",
        max_ns: 150.0,
        max_allocations: 1.0,
    },
    Middleware {
        case: "subdomain",
        baseline: "baseline",
        layer: TENANT_LAYER,
        label: "subdomain, bare tower service",
        max_ns: 150.0,
        max_allocations: 1.0,
    },
    Middleware {
        case: "axum_header",
        baseline: "axum_baseline",
        layer: TENANT_LAYER,
        label: "`X-Tenant` header, axum `Router`, vs no layer",
        max_ns: 150.0,
        max_allocations: 1.0,
    },
    Middleware {
        case: "axum_header",
        baseline: "axum_noop_layer",
        layer: TENANT_LAYER,
        label: "`X-Tenant` header, axum `Router`, vs a pass-through layer",
        max_ns: 150.0,
        max_allocations: 1.0,
    },
    // Against a pass-through layer in the same place: what metering costs
    // beyond what axum charges for any layer.
    Middleware {
        case: "axum_header_metered",
        baseline: "axum_header_noop_layer",
        layer: "`MeterLayer`",
        label: "inside `TenantLayer` in an axum `Router`, no exporter, vs a pass-through layer there",
        max_ns: 50.0,
        max_allocations: 0.0,
    },
];

/// Where the report reads from.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// criterion's output directory (`target/criterion`).
    pub criterion: std::path::PathBuf,
    /// Allocation counts and server notes (`target/tenancy-bench`).
    pub notes: serde_json::Value,
    /// Allocations per request by middleware case.
    pub allocations: serde_json::Value,
    /// Time each middleware case adds to its baseline, measured in
    /// alternating blocks (`cargo bench -p tenancy-bench --bench middleware`).
    pub middleware: serde_json::Value,
    /// The scoped SQL macros against hand-written `sqlx::query_as!`,
    /// measured in pairs (`cargo bench -p shop`).
    pub macros: serde_json::Value,
    /// Sealing many tenants and the connections they hold
    /// (`cargo bench -p tenancy-bench --bench database`).
    pub sealed: serde_json::Value,
    /// One tenant's job behind another's burst, plain and fair
    /// (`cargo bench -p tenancy-bench --bench jobs`).
    pub fairness: serde_json::Value,
    /// The SDK against what users would write instead, interleaved
    /// (`cargo bench -p tenancy-bench-peers`).
    pub peers: serde_json::Value,
    /// Provisioning and migrating many tenant schemas
    /// (`cargo bench -p tenancy-bench --bench schemas`).
    pub schemas: serde_json::Value,
    /// A line about the machine.
    pub machine: String,
}

impl Inputs {
    /// Reads what the benchmarks left under `target`.
    pub fn read(target: &Path) -> Self {
        let json = |name: &str| {
            std::fs::read_to_string(target.join("tenancy-bench").join(name))
                .ok()
                .and_then(|t| serde_json::from_str(&t).ok())
                .unwrap_or(serde_json::Value::Null)
        };
        Self {
            criterion: target.join("criterion"),
            notes: json("database.json"),
            allocations: json("allocations.json"),
            middleware: json("middleware.json"),
            macros: json("macros.json"),
            sealed: json("sealed.json"),
            fairness: json("fairness.json"),
            peers: json("peers.json"),
            schemas: json("schemas.json"),
            machine: machine(),
        }
    }

    fn estimate(&self, id: &str) -> Option<Estimate> {
        Estimate::read(&self.criterion, id)
    }
}

fn machine() -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|m| m.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".to_owned());
    let cores = std::thread::available_parallelism().map_or(0, std::num::NonZero::get);
    format!(
        "{cpu}, {cores} cores available, {} {}",
        std::env::consts::OS,
        std::env::consts::ARCH
    )
}

pub(crate) fn verdict(met: bool) -> &'static str {
    if met { "yes" } else { "**no**" }
}

/// The report, or `None` when no benchmark results were found.
pub fn render(inputs: &Inputs) -> Option<String> {
    let mut out = String::from("# Benchmarks\n\n");
    let _ = writeln!(
        out,
        "Generated by `bash scripts/bench.sh` (do not edit by hand). Every case is compared with a \
         baseline measured in the same run, on the same machine, server and data.\n"
    );
    let _ = writeln!(out, "- Machine: {}", inputs.machine);
    if let Some(pg) = inputs.notes.get("postgres").and_then(|v| v.as_str()) {
        let _ = writeln!(
            out,
            "- PostgreSQL {pg}, a throwaway cluster on the same machine, over TCP to 127.0.0.1, as the app role (not owner, no `BYPASSRLS`)"
        );
    }
    if let (Some(rows), Some(tenants)) = (inputs.notes.get("rows"), inputs.notes.get("tenants")) {
        let _ = writeln!(
            out,
            "- Data: `orders` under RLS and `orders_plain` without, {rows} rows over {tenants} tenants each"
        );
    }
    if inputs
        .notes
        .get("quick")
        .and_then(serde_json::Value::as_bool)
        == Some(true)
    {
        let _ = writeln!(
            out,
            "- **Quick run** (`--quick`): small data set, short measurements; for smoke, not for quoting"
        );
    }
    let _ = writeln!(
        out,
        "\nThroughput ratio = baseline time / case time (1.00: free; higher is better). \
         Time ratio = case time / baseline time (lower is better).\n"
    );
    let mut any = false;
    out.push_str("## Targets\n\n| what | measured | target | met |\n|---|---|---|---|\n");
    any |= middleware_rows(&mut out, inputs);
    for c in COMPARISONS {
        let (Some(base), Some(case)) = (inputs.estimate(c.baseline), inputs.estimate(c.case))
        else {
            let _ = writeln!(out, "| {} | not measured | | |", c.label);
            continue;
        };
        any = true;
        let (measured, target, met) = match c.target {
            Target::ThroughputAtLeast(min) => {
                let r = base.mean_ns / case.mean_ns;
                (
                    format!("throughput ratio {r:.2}"),
                    format!("≥ {min:.2}"),
                    verdict(r >= min),
                )
            }
            Target::TimeAtMost(max) => {
                let r = case.mean_ns / base.mean_ns;
                (
                    format!("time ratio {r:.2}"),
                    format!("≤ {max:.2}"),
                    verdict(r <= max),
                )
            }
            Target::None => {
                let r = base.mean_ns / case.mean_ns;
                let t = case.mean_ns / base.mean_ns;
                (
                    format!("throughput ratio {r:.2} (time ratio {t:.2})"),
                    "for comparison".to_owned(),
                    "",
                )
            }
        };
        let _ = writeln!(out, "| {} | {measured} | {target} | {met} |", c.label);
    }
    any |= macro_rows(&mut out, inputs);
    any |= crate::peers::builder_row(&mut out, &inputs.peers);
    if !any {
        return None;
    }
    crate::peers::render(&mut out, &inputs.peers);
    allocation_parts(&mut out, inputs);
    cache_scaling(&mut out, inputs);
    sealed_scale(&mut out, inputs);
    fair_queues(&mut out, inputs);
    schemas_at_scale(&mut out, &inputs.schemas);
    out.push_str("\n## Absolute numbers\n\n| benchmark | mean | 95% interval |\n|---|---|---|\n");
    let mut ids: Vec<&str> = vec![
        "middleware/baseline",
        "middleware/header",
        "middleware/subdomain",
        "middleware/axum_baseline",
        "middleware/axum_noop_layer",
        "middleware/axum_header",
        "middleware/axum_header_noop_layer",
        "middleware/axum_header_metered",
    ];
    for c in COMPARISONS {
        for id in [c.baseline, c.case] {
            if !ids.contains(&id) {
                ids.push(id);
            }
        }
    }
    for id in ids {
        if let Some(e) = inputs.estimate(id) {
            let _ = writeln!(out, "| `{id}` | {} | {} |", e.mean(), e.interval());
        }
    }
    Some(out)
}

/// The macros' cost: the time ratio of each query through
/// `tenancy_sqlx::query_as!` to the same query hand-written, run in
/// alternating pairs on one transaction (medians).
fn macro_rows(out: &mut String, inputs: &Inputs) -> bool {
    const LABELS: &[(&str, &str)] = &[
        ("order_lines", "3-table join by key"),
        (
            "customer_values",
            "report: CTE, aggregates, scalar subquery",
        ),
    ];
    let mut any = false;
    for (name, what) in LABELS {
        let entry = &inputs.macros[name];
        let (Some(hand), Some(with_macro), Some(pairs)) = (
            entry["hand_ns"].as_f64(),
            entry["macro_ns"].as_f64(),
            entry["pairs"].as_u64(),
        ) else {
            let _ = writeln!(
                out,
                "| sqlx macros vs hand-written `sqlx::query_as!`: {what} | not measured | | |"
            );
            continue;
        };
        any = true;
        let ratio = with_macro / hand;
        let _ = writeln!(
            out,
            "| sqlx macros vs hand-written `sqlx::query_as!`: {what} ({pairs} alternating pairs, median {} vs {}) | time ratio {ratio:.3} | ≤ 1.02 | {} |",
            crate::estimates::human(with_macro),
            crate::estimates::human(hand),
            verdict(ratio <= 1.02)
        );
    }
    any
}

fn middleware_rows(out: &mut String, inputs: &Inputs) -> bool {
    let mut any = false;
    let allocations = |case: &str| {
        inputs
            .allocations
            .get(case)
            .and_then(serde_json::Value::as_f64)
    };
    for m in &MIDDLEWARE {
        let (layer, label) = (m.layer, m.label);
        let interleaved = &inputs.middleware[format!("{}/{}", m.case, m.baseline)];
        if let (Some(median), Some(q1), Some(q3), Some(rounds)) = (
            interleaved["median_ns"].as_f64(),
            interleaved["q1_ns"].as_f64(),
            interleaved["q3_ns"].as_f64(),
            interleaved["rounds"].as_u64(),
        ) {
            any = true;
            let _ = writeln!(
                out,
                "| {layer}, {label}, cached store hit: time added per request ({rounds} alternating rounds: median, quartiles) | {median:+.0} ns ({q1:+.0} to {q3:+.0}) | ≤ {:.0} ns | {} |",
                m.max_ns,
                verdict(median <= m.max_ns)
            );
        } else if let (Some(base), Some(e)) = (
            inputs.estimate(&format!("middleware/{}", m.baseline)),
            inputs.estimate(&format!("middleware/{}", m.case)),
        ) {
            any = true;
            let added = e.mean_ns - base.mean_ns;
            let _ = writeln!(
                out,
                "| {layer}, {label}, cached store hit: time added per request | {added:+.0} ns (throughput ratio {:.2}) | ≤ {:.0} ns | {} |",
                base.mean_ns / e.mean_ns,
                m.max_ns,
                verdict(added <= m.max_ns)
            );
        }
        if let (Some(a), Some(b)) = (allocations(m.case), allocations(m.baseline)) {
            let added = a - b;
            let _ = writeln!(
                out,
                "| {layer}, {label}: heap allocations added per request | {added:.1} | ≤ {:.0} | {} |",
                m.max_allocations,
                // Averaged over 10,000 requests: a stray allocation of the
                // runtime adds a few ten-thousandths, which are not the layer's.
                verdict(added <= m.max_allocations + 0.01)
            );
        }
    }
    if !any {
        let _ = writeln!(out, "| middleware | not measured | | |");
    }
    any
}

fn allocation_parts(out: &mut String, inputs: &Inputs) {
    let Some(parts) = inputs
        .allocations
        .get("parts")
        .and_then(serde_json::Value::as_object)
    else {
        return;
    };
    out.push_str(
        "\n### Where the middleware's allocations go\n\n\
         Measured one by one on the header hit path. A bare request has no \
         extensions yet, so http allocates the map for the tenant; in an axum \
         route the map exists (axum put the path parameters there) and the \
         tenant costs one boxed value:\n\n| part | allocations |\n|---|---|\n",
    );
    for (part, n) in parts {
        let _ = writeln!(out, "| {part} | {} |", n.as_f64().unwrap_or(f64::NAN));
    }
}

/// `CachedTenantStore` hits from one thread and from every core at once.
fn cache_scaling(out: &mut String, inputs: &Inputs) {
    let scaling = &inputs.middleware["cache_scaling"];
    let (Some(threads), Some(one), Some(all)) = (
        scaling["threads"].as_u64(),
        scaling["one_thread_ns"].as_f64(),
        scaling["all_threads_ns"].as_f64(),
    ) else {
        return;
    };
    let _ = writeln!(
        out,
        "\n### Cache hits under concurrency\n\n\
         `CachedTenantStore::lookup_now` hits, each thread on 16 tenants of its own (1,024 cached); \
         the entries are spread over up to 32 locks by key:\n\n\
         | threads at once | time per hit |\n|---|---|\n\
         | 1 | {one:.1} ns |\n| {threads} | {all:.1} ns |"
    );
}

/// Fair queues: one tenant's single job behind another tenant's burst.
fn fair_queues(out: &mut String, inputs: &Inputs) {
    let f = &inputs.fairness;
    let Some(burst) = f["burst"].as_u64() else {
        return;
    };
    let _ = writeln!(
        out,
        "\n### Fair queues (tenancy-jobs)\n\n\
         One tenant enqueues a burst of {burst} jobs, then another tenant one job; a worker (through \
         `TenantJobLayer`, 100 jobs per fetch, trivial jobs) serves the queue until that one job ran. \
         Same server, a queue of its own for each run:\n\n\
         | enqueue | the burst took | jobs served before the single job | its wait, enqueue to run |\n\
         |---|---|---|---|"
    );
    for (name, key) in [
        ("apalis `push_bulk` (plain)", "plain"),
        ("`TenantQueues::enqueue` (fair)", "fair"),
    ] {
        let run = &f[key];
        let _ = writeln!(
            out,
            "| {name} | {:.0} ms | {} | {:.0} ms |",
            run["enqueue_ms"].as_f64().unwrap_or(f64::NAN),
            run["jobs_before"]
                .as_u64()
                .map_or("?".to_owned(), |n| n.to_string()),
            run["wait_ms"].as_f64().unwrap_or(f64::NAN),
        );
    }
    let _ = writeln!(
        out,
        "\nThe bound is the order, asserted by `tenancy-jobs/tests/fairness.rs`: the single job is \
         served second, whatever the burst. Its wait is then one fetch and one job, not the burst.\n"
    );
}

/// Sealed tenants at scale: sealing time and the connections they hold.
fn sealed_scale(out: &mut String, inputs: &Inputs) {
    let s = &inputs.sealed;
    let (Some(tenants), Some(active), Some(ms), Some(held), Some(pools)) = (
        s["tenants"].as_u64(),
        s["active"].as_u64(),
        s["seal_ms_per_tenant"].as_f64(),
        s["connections_held"].as_u64(),
        s["open_pools"].as_u64(),
    ) else {
        return;
    };
    let _ = writeln!(
        out,
        "\n### Sealed tenants at scale\n\n\
         {tenants} tenants sealed one after another (login role with a SCRAM verifier computed by the SDK, \
         map entry; one transaction each): **{ms:.1} ms per tenant**. Then one routed pool (at most 64 open \
         pools, 2 connections each, idle ones closed after 60 s) ran a transaction for every tenant, and \
         {active} of them three times at once: the server held **{held} connections** of sealed roles \
         ({pools} sealed pools open). The bound is `max_open_pools` × the sealed pool size, whatever the \
         number of sealed tenants.\n\n\
         Through pgbouncer, the shared role's transactions measured slower than a sealed role's in every \
         run so far (same pgbouncer, same pool sizes, either order of the cases); the cause is not \
         found yet, so read the pgbouncer ratio as \"sealed costs nothing extra there\", not as a gain.\n"
    );
}

/// Schema-per-tenant at scale: provisioning, `migrate_all`, catalog size.
fn schemas_at_scale(out: &mut String, s: &serde_json::Value) {
    let (Some(n), Some(provision), Some(migrate)) = (
        s["schemas"].as_u64(),
        s["provision_s"].as_f64(),
        s["migrate_s"].as_f64(),
    ) else {
        return;
    };
    let per = |total: f64| total * 1e3 / n as f64;
    let _ = writeln!(
        out,
        "\n### Tenant schemas at scale\n\n\
         {n} tenant schemas in one database (each: schema, role, grants, two tables, an index, the \
         tracking table), by `SchemaProvisioner` on a pool of 8 connections, one run each \
         (`cargo bench -p tenancy-bench --bench schemas`):\n\n\
         | step | workers | total | per schema |\n|---|---|---|---|\n\
         | provision | {} | {provision:.1} s | {:.2} ms |",
        s["provision_workers"].as_u64().unwrap_or(0),
        per(provision),
    );
    if let Some(noop) = s["noop_s"].as_object() {
        for (workers, t) in noop {
            let t = t.as_f64().unwrap_or(f64::NAN);
            let _ = writeln!(
                out,
                "| `migrate_all`, nothing to do | {workers} | {t:.2} s | {:.3} ms |",
                per(t)
            );
        }
    }
    let _ = writeln!(
        out,
        "| `migrate_all`, a column added to every schema | {} | {migrate:.1} s | {:.2} ms |",
        s["migrate_workers"].as_u64().unwrap_or(0),
        per(migrate),
    );
    let mib = |key: &str| s[key].as_f64().unwrap_or(f64::NAN) / (1024.0 * 1024.0);
    let _ = writeln!(
        out,
        "\nThe catalog afterwards: {} relations, system tables {:.0} MiB, the database {:.0} MiB. A no-op \
         run reads each schema's applied versions in one query, without a lock or a transaction; only a \
         schema with something to apply takes its advisory lock and a transaction per migration.\n",
        s["relations"].as_u64().unwrap_or(0),
        mib("catalog_bytes"),
        mib("database_bytes"),
    );
}

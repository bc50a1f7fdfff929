//! The report's sections from `peers.json`: the SDK's tenant transaction
//! against what users would write instead, interleaved rounds with their
//! spread, round trips counted on the wire.

use std::fmt::Write as _;

use serde_json::Value;

use crate::estimates::human;
use crate::report::verdict;

/// The most the builder may add to the same query in raw SQL.
const BUILDER_MAX: f64 = 1.02;

/// The builder against raw SQL on one transaction, a row of the targets.
pub fn builder_row(out: &mut String, peers: &Value) -> bool {
    let b = &peers["builder"];
    let (Some(raw), Some(builder), Some(pairs)) = (
        b["raw_ns"].as_f64(),
        b["builder_ns"].as_f64(),
        b["pairs"].as_u64(),
    ) else {
        let _ = writeln!(
            out,
            "| `Scoped` builder vs the same query in raw SQL, one transaction | not measured | | |"
        );
        return false;
    };
    let ratio = builder / raw;
    let _ = writeln!(
        out,
        "| `Scoped` builder vs the same query in raw SQL, one transaction ({pairs} alternating pairs, median {} vs {}) | time ratio {ratio:.3} | ≤ {BUILDER_MAX:.2} | {} |",
        human(builder),
        human(raw),
        verdict(ratio <= BUILDER_MAX)
    );
    true
}

fn ratio_cell(v: &Value) -> String {
    match (
        v["ratio"].as_f64(),
        v["ratio_low"].as_f64(),
        v["ratio_high"].as_f64(),
    ) {
        (Some(r), Some(lo), Some(hi)) => format!("{r:.2} ({lo:.2}–{hi:.2})"),
        _ => "?".to_owned(),
    }
}

/// The comparison with the alternatives, and the concurrency rounds.
pub fn render(out: &mut String, peers: &Value) {
    let Some(cases) = peers["cases"].as_array() else {
        return;
    };
    let rounds = peers["rounds"].as_u64().unwrap_or(0);
    let per_round = peers["per_round"].as_u64().unwrap_or(0);
    let rows = peers["rows"].as_u64().unwrap_or(0);
    let _ = writeln!(
        out,
        "\n## Against what users would write instead\n\n\
         One transaction reading one order by key (`orders`, {rows} rows, 1000 tenants), each way on a \
         one-connection sqlx pool of its own. The ways run **interleaved**: {rounds} rounds of {per_round} \
         transactions each, in an order that rotates, so a drift of the machine hits them alike. Time ratio \
         to plain sqlx: the median round, and in brackets the lowest and highest. Round trips per \
         transaction are counted on the wire, by a TCP relay in a pass of its own, sqlx's pings included \
         (`cargo bench -p tenancy-bench-peers`).\n\n\
         | way | median time | time ratio (spread) | round trips |\n|---|---|---|---|"
    );
    for case in cases {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            case["label"].as_str().unwrap_or("?"),
            human(case["time_us"].as_f64().unwrap_or(f64::NAN) * 1e3),
            ratio_cell(case),
            case["round_trips"]
                .as_f64()
                .map_or("?".to_owned(), |n| format!("{n:.1}")),
        );
    }
    out.push_str(
        "\nWhat the rows say:\n\n\
         - **Round trips.** `TenantPool::begin` binds the tenant in the `BEGIN` message: a tenant \
         transaction is as many round trips as a plain one (asserted by `tenancy-sqlx/tests/round_trips.rs`). \
         sqlx's pool adds two of them: a ping when it hands out an idle connection (`test_before_acquire`, on \
         by default) and one when the connection comes back (always). `test_before_acquire(false)` saves the \
         first, safely: the tenant is bound per transaction, and the release ping already flushed the \
         connection; the cost is that the first transaction on a connection the server dropped fails instead \
         of being retried. tenaxum sends its `set_config` as a statement of its own: one round trip more.\n\
         - **Raw SQL through `&mut tx`** marks the session, which is then reset in the `COMMIT` message \
         (settings, role, temporary tables, cursors, listeners, advisory locks: what raw SQL could leave for \
         the next tenant on the connection). No round trip, but a dozen statements of server work. The \
         `Scoped` builders leave nothing to reset: use them where a transaction is hot (the scoped SQL \
         macros, like any raw SQL, pay the reset: they prove which rows a query reads, not what a function \
         in it leaves on the session).\n\
         - **The temporary-table wall** (`search_path` with `pg_temp` last, set in the `BEGIN` message) is \
         the difference between the hand-written limit and the limit with the wall; \
         `TenantBinding::dangerous_trust_temporary_revoked()` leaves it out where the audit shows \
         `TEMPORARY` revoked.\n",
    );
    concurrency(out, peers);
}

fn concurrency(out: &mut String, peers: &Value) {
    let Some(levels) = peers["concurrency"].as_array() else {
        return;
    };
    let _ = writeln!(
        out,
        "\n### Concurrent clients\n\n\
         N clients at once, each one transaction, on a pool of N connections; interleaved rounds as above. \
         Time ratio to plain sqlx (median, spread):\n\n\
         | clients | hand-written `SET LOCAL` | `TenantPool`, raw SQL | `TenantPool`, builder |\n|---|---|---|---|"
    );
    for level in levels {
        let ways = level["ways"].as_array().map_or(&[][..], Vec::as_slice);
        let cell = |name: &str| {
            ways.iter()
                .find(|w| w["name"] == name)
                .map_or("?".to_owned(), ratio_cell)
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} |",
            level["clients"].as_u64().unwrap_or(0),
            cell("hand_set_local"),
            cell("tenant_pool"),
            cell("tenant_pool_builder"),
        );
    }
    out.push_str(
        "\nWhat limits them: the client and the server share 2 cores, so with more than one client the run is \
         bound by CPU, and a ratio is the ratio of work per transaction. The hand-written `SET LOCAL` costs \
         next to nothing over plain; what the SDK adds is server work in the same messages (the \
         temporary-table wall, and after raw SQL the session reset), which one client hides behind the \
         network wait and many clients do not.\n",
    );
}

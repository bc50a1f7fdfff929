//! What users would write instead of a `TenantPool` transaction, measured
//! against it in the same run, on the same server and data:
//!
//! - plain sqlx with an explicit `WHERE tenant_id` on a table without RLS
//!   (the baseline: what isolation costs is measured against it);
//! - a hand-written `BEGIN; SET LOCAL app.tenant_id = '…'` on the RLS
//!   table, one message (the physical limit of binding a tenant for RLS);
//! - the same with the SDK's temporary-table wall in the message;
//! - `TenantPool::begin` (raw SQL, and the `Scoped` builder);
//! - `TenantPool::begin` on a pool that does not ping idle connections;
//! - the Rust peer `tenaxum` (crates.io), whose `begin_tenant` sends its
//!   `set_config` as a statement of its own.
//!
//! Not criterion: the cases run **interleaved**, round after round, so a
//! drift of the machine hits them alike; each round gives every case's
//! time ratio to the baseline, and the report shows the median ratio with
//! its spread (lowest and highest round). Round trips per transaction are
//! counted on the wire (a [`TcpProxy`](tenancy_testing::proxy::TcpProxy)
//! per case, in a pass of its own, so the relay's hop is not timed).
//! Then the builder against raw SQL on one transaction (alternating
//! pairs), and 2/8/32 concurrent clients, also by rounds.
//!
//! Writes `target/tenancy-bench/peers.json` for `bench-report`.
#![allow(
    clippy::expect_used,
    clippy::unwrap_used,
    clippy::cast_precision_loss, // counts and times far below 2^52
    missing_docs,
    unreachable_pub
)]

mod cases;
mod concurrency;
mod data;
mod pairs;
mod rounds;

use std::time::Duration;

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let quick = !measuring || std::env::var_os("TENANCY_BENCH_QUICK").is_some_and(|v| v == "1");
    let size = if measuring && !quick {
        rounds::Size::FULL
    } else if measuring {
        rounds::Size::QUICK
    } else {
        rounds::Size::TEST
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let data = data::Data::load(&rt, size.rows);
    let single = rt.block_on(async {
        let cases = cases::Case::all(&data).await;
        let round_trips = cases::round_trips(&data, &cases).await;
        let timed = rounds::interleaved(&cases, &data, size).await;
        rounds::summary(&cases, &timed, &round_trips)
    });
    let builder = rt.block_on(pairs::builder_vs_raw(&data, size.pairs));
    let concurrency = rt.block_on(concurrency::rounds(&data, size));
    let report = serde_json::json!({
        "rows": size.rows,
        "rounds": size.rounds,
        "per_round": size.per_round,
        "quick": quick,
        "cases": single,
        "builder": builder,
        "concurrency": concurrency,
    });
    println!("{}", serde_json::to_string_pretty(&report).expect("json"));
    if measuring {
        let dir = tenancy_bench::output_dir();
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("peers.json"), report.to_string());
    }
    rt.shutdown_timeout(Duration::from_secs(5));
}

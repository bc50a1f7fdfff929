//! What the scoped SQL macros cost: each query through
//! `tenancy_sqlx::query_as!` against the same query written by hand with
//! `sqlx::query_as!` (`shop::baseline`), both on one open `TenantTx`. The
//! SQL sent is identical (the macro expands into exactly the hand-written
//! text), so the difference is the price of the wrapper.
//!
//! The two run alternately, pair after pair, each timed on its own, so that
//! the machine's drift (the server shares it) falls on both alike; the
//! ratio of the medians is the result (a median does not move with the
//! few runs the scheduler delays). `cargo bench -p shop` writes it to
//! `target/tenancy-bench/macros.json` for BENCHMARKS.md
//! (`bash scripts/bench.sh`). Under `cargo test` each query runs a few
//! times and nothing is written.
#![allow(clippy::expect_used)]

use std::future::Future;
use std::path::PathBuf;
use std::pin::Pin;
use std::time::{Duration, Instant};

use sqlx::postgres::PgPoolOptions;
use tenancy_core::{Tenant, TenantId};
use tenancy_sqlx::{TenantPool, TenantTx};

/// One run of a query: the rows it returned.
type Running<'t> = Pin<Box<dyn Future<Output = usize> + 't>>;

/// One query, both ways.
struct Pair {
    name: &'static str,
    hand: fn(&mut TenantTx) -> Running<'_>,
    with_macro: fn(&mut TenantTx) -> Running<'_>,
}

const PAIRS: &[Pair] = &[
    Pair {
        name: "order_lines",
        hand: |tx| {
            Box::pin(async move {
                shop::baseline::order_lines(tx, 3)
                    .await
                    .expect("query")
                    .len()
            })
        },
        with_macro: |tx| {
            Box::pin(async move {
                shop::queries::order_lines(tx, 3)
                    .await
                    .expect("query")
                    .len()
            })
        },
    },
    Pair {
        name: "customer_values",
        hand: |tx| {
            Box::pin(async move {
                shop::baseline::customer_values(tx)
                    .await
                    .expect("query")
                    .len()
            })
        },
        with_macro: |tx| {
            Box::pin(async move {
                shop::queries::customer_values(tx)
                    .await
                    .expect("query")
                    .len()
            })
        },
    },
];

async fn timed(tx: &mut TenantTx, run: fn(&mut TenantTx) -> Running<'_>) -> Duration {
    let start = Instant::now();
    let rows = run(tx).await;
    let elapsed = start.elapsed();
    assert!(rows > 0, "no rows");
    elapsed
}

fn median(times: &mut [Duration]) -> Duration {
    times.sort_unstable();
    times[times.len() / 2]
}

fn main() {
    let measuring = std::env::args().any(|a| a == "--bench");
    let quick = std::env::var_os("TENANCY_BENCH_QUICK").is_some_and(|v| v == "1");
    let pairs: u32 = match (measuring, quick) {
        (false, _) => 3,
        (true, true) => 1_000,
        (true, false) => 10_000,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let db = tenancy_testing::test_database();
    db.owner_sql(&shop::migration()).expect("migration");
    let results = rt.block_on(async {
        let raw = PgPoolOptions::new()
            .max_connections(1)
            .connect(db.app_url())
            .await
            .expect("pool");
        let pool = TenantPool::new(raw);
        let tenant = |slug: &str| Tenant::builder(TenantId::new_v4(), slug.parse().expect("slug")).build();
        let acme = tenant("acme");
        // Other tenants' rows share the tables, as in production.
        for (t, k) in [(tenant("globex"), 3), (acme.clone(), 1), (tenant("initech"), 2)] {
            let mut tx = pool.begin(&t).await.expect("begin");
            shop::sample::seed(&mut tx, k).await.expect("seed");
            tx.commit().await.expect("commit");
        }
        let mut results = serde_json::Map::new();
        for pair in PAIRS {
            let mut tx = pool.begin(&acme).await.expect("begin");
            for _ in 0..pairs.min(200) {
                timed(&mut tx, pair.hand).await;
                timed(&mut tx, pair.with_macro).await;
            }
            let (mut hand, mut with_macro) = (Vec::new(), Vec::new());
            for i in 0..pairs {
                // Alternate which goes first.
                if i % 2 == 0 {
                    hand.push(timed(&mut tx, pair.hand).await);
                    with_macro.push(timed(&mut tx, pair.with_macro).await);
                } else {
                    with_macro.push(timed(&mut tx, pair.with_macro).await);
                    hand.push(timed(&mut tx, pair.hand).await);
                }
            }
            tx.rollback().await.expect("rollback");
            let (hand, with_macro) = (median(&mut hand), median(&mut with_macro));
            let ratio = with_macro.as_secs_f64() / hand.as_secs_f64();
            println!(
                "macros/{}: median hand-written {hand:?}, macro {with_macro:?} over {pairs} pairs: time ratio {ratio:.3}",
                pair.name,
            );
            results.insert(
                pair.name.to_owned(),
                serde_json::json!({
                    "hand_ns": hand.as_secs_f64() * 1e9,
                    "macro_ns": with_macro.as_secs_f64() * 1e9,
                    "pairs": pairs,
                }),
            );
        }
        results
    });
    if measuring {
        let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
            || PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target"),
            PathBuf::from,
        );
        let dir = target.join("tenancy-bench");
        std::fs::create_dir_all(&dir).expect("target/tenancy-bench");
        let mut json = serde_json::Value::Object(results);
        json["quick"] = serde_json::Value::Bool(quick);
        std::fs::write(dir.join("macros.json"), json.to_string()).expect("macros.json");
    }
}

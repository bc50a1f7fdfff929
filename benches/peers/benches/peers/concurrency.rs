//! 2, 8 and 32 clients at once, each running one transaction, on a pool
//! with a connection per client: plain, the hand-written limit and
//! `TenantPool::begin` (raw SQL, and the builder), by interleaved rounds
//! like the single-client cases.

use std::str::FromStr;
use std::time::Instant;

use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tenancy_sqlx::TenantPool;
use tokio::task::JoinSet;

use crate::cases::{hand_set_local_tx, plain_tx, tenant_pool_builder_tx, tenant_pool_tx};
use crate::data::Data;
use crate::rounds::{Size, spread};

pub const CLIENTS: [usize; 3] = [2, 8, 32];

/// The ways, by name: what each client runs.
const WAYS: [&str; 4] = [
    "plain",
    "hand_set_local",
    "tenant_pool",
    "tenant_pool_builder",
];

pub async fn rounds(data: &Data, size: Size) -> serde_json::Value {
    let mut out = Vec::new();
    for clients in CLIENTS {
        let max = u32::try_from(clients).expect("few clients");
        let options = PgConnectOptions::from_str(data.db.app_url()).expect("a valid URL");
        let raw = PgPoolOptions::new()
            .min_connections(max)
            .max_connections(max)
            .connect_with(options)
            .await
            .expect("an app-role pool");
        let pool = TenantPool::new(raw.clone());
        let mut key = 0;
        let mut times: Vec<[f64; WAYS.len()]> = Vec::new();
        for round in 0..=size.rounds {
            let mut t = [0.0; WAYS.len()];
            for step in 0..WAYS.len() {
                let way = (round + step) % WAYS.len();
                let started = Instant::now();
                for _ in 0..size.concurrent_per_round {
                    let mut set = JoinSet::new();
                    for _ in 0..clients {
                        key += 1;
                        let (tenant, id) = data.key(key);
                        let (raw, pool) = (raw.clone(), pool.clone());
                        set.spawn(async move {
                            let found = match way {
                                0 => plain_tx(&raw, &tenant, id).await,
                                1 => hand_set_local_tx(&raw, &tenant, id, "").await,
                                2 => tenant_pool_tx(&pool, &tenant, id).await,
                                _ => tenant_pool_builder_tx(&pool, &tenant, id).await,
                            };
                            assert!(found, "{}: the row was not found", WAYS[way]);
                        });
                    }
                    set.join_all().await;
                }
                t[way] = started.elapsed().as_secs_f64() / size.concurrent_per_round as f64;
            }
            // Round 0 warms the pools (statements prepared on every connection).
            if round > 0 {
                times.push(t);
            }
        }
        raw.close().await;
        let ways: Vec<serde_json::Value> = (0..WAYS.len())
            .map(|w| {
                let (time, _, _) = spread(&mut times.iter().map(|t| t[w]).collect::<Vec<_>>());
                let (ratio, low, high) =
                    spread(&mut times.iter().map(|t| t[w] / t[0]).collect::<Vec<_>>());
                serde_json::json!({
                    "name": WAYS[w],
                    "time_us": time * 1e6,
                    "ratio": ratio,
                    "ratio_low": low,
                    "ratio_high": high,
                })
            })
            .collect();
        out.push(serde_json::json!({ "clients": clients, "ways": ways }));
    }
    serde_json::Value::Array(out)
}

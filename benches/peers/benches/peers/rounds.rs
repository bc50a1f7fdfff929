//! Interleaved rounds: every case runs `per_round` transactions in each
//! round, in an order that rotates from round to round; each round gives
//! each case's time ratio to the baseline (the first case).

use std::time::Instant;

use crate::cases::Case;
use crate::data::Data;

/// How much is measured.
#[derive(Debug, Clone, Copy)]
pub struct Size {
    pub rows: u64,
    pub rounds: usize,
    pub per_round: usize,
    /// Builder/raw pairs on one transaction.
    pub pairs: usize,
    /// Iterations per round and case in the concurrency rounds.
    pub concurrent_per_round: usize,
}

impl Size {
    /// `bash scripts/bench.sh`.
    pub const FULL: Size = Size {
        rows: 1_000_000,
        rounds: 9,
        per_round: 400,
        pairs: 10_000,
        concurrent_per_round: 60,
    };
    /// `bash scripts/bench.sh --quick`.
    pub const QUICK: Size = Size {
        rows: 100_000,
        rounds: 3,
        per_round: 100,
        pairs: 1_000,
        concurrent_per_round: 10,
    };
    /// `cargo test`: everything runs, briefly.
    pub const TEST: Size = Size {
        rows: 10_000,
        rounds: 2,
        per_round: 5,
        pairs: 10,
        concurrent_per_round: 2,
    };
}

/// Mean seconds per transaction: `[round][case]`.
pub async fn interleaved(cases: &[Case], data: &Data, size: Size) -> Vec<Vec<f64>> {
    let mut key = 0;
    // Warm every case: statements prepared on its connection.
    for case in cases {
        let (tenant, id) = data.key(key);
        assert!((case.run)(tenant, id).await);
        key += 1;
    }
    let mut rounds = Vec::new();
    for round in 0..size.rounds {
        let mut times = vec![0.0; cases.len()];
        for step in 0..cases.len() {
            let i = (round + step) % cases.len();
            let started = Instant::now();
            for _ in 0..size.per_round {
                key += 1;
                let (tenant, id) = data.key(key);
                assert!(
                    (cases[i].run)(tenant, id).await,
                    "{}: the row was not found",
                    cases[i].kind.name()
                );
            }
            times[i] = started.elapsed().as_secs_f64() / size.per_round as f64;
        }
        rounds.push(times);
    }
    rounds
}

/// Median, lowest and highest of `values`.
pub fn spread(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let median = values[values.len() / 2];
    (median, values[0], values[values.len() - 1])
}

/// Per case: median time, time ratio to the baseline (median, lowest and
/// highest round), round trips per transaction.
pub fn summary(cases: &[Case], rounds: &[Vec<f64>], round_trips: &[f64]) -> serde_json::Value {
    let out: Vec<serde_json::Value> = cases
        .iter()
        .enumerate()
        .map(|(i, case)| {
            let (time, _, _) = spread(&mut rounds.iter().map(|r| r[i]).collect::<Vec<_>>());
            let (ratio, low, high) =
                spread(&mut rounds.iter().map(|r| r[i] / r[0]).collect::<Vec<_>>());
            serde_json::json!({
                "name": case.kind.name(),
                "label": case.kind.label(),
                "time_us": time * 1e6,
                "ratio": ratio,
                "ratio_low": low,
                "ratio_high": high,
                "round_trips": round_trips[i],
            })
        })
        .collect();
    serde_json::Value::Array(out)
}

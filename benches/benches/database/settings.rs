//! How big and how long: the full run, the quick smoke run, the test run.

use std::time::Duration;

use criterion::Criterion;

/// Data set size and measuring time.
pub struct Settings {
    /// Rows in the table under RLS (and in its plain twin).
    pub rows: u64,
    /// Tenants owning those rows, evenly.
    pub tenants: u64,
    /// Short warm-up and measurement (`TENANCY_BENCH_QUICK=1`, or `cargo test`).
    pub quick: bool,
    /// `cargo bench` (criterion got `--bench`), not a test run.
    pub measuring: bool,
}

impl Settings {
    pub fn from_env() -> Self {
        let measuring = std::env::args().any(|a| a == "--bench");
        let quick = !measuring || std::env::var_os("TENANCY_BENCH_QUICK").is_some_and(|v| v == "1");
        let (rows, tenants) = if quick {
            (100_000, 1_000)
        } else {
            (1_000_000, 10_000)
        };
        Self {
            rows,
            tenants,
            quick,
            measuring,
        }
    }

    pub fn criterion(&self) -> Criterion {
        let criterion = Criterion::default().configure_from_args();
        if self.quick {
            criterion
                .sample_size(10)
                .warm_up_time(Duration::from_millis(300))
                .measurement_time(Duration::from_secs(1))
        } else {
            criterion
                .sample_size(50)
                .warm_up_time(Duration::from_secs(1))
                .measurement_time(Duration::from_secs(3))
        }
    }
}

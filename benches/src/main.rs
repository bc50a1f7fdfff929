//! `bench-report`: writes `BENCHMARKS.md` (or the path given) from the
//! results the benchmarks left in the target directory.

use std::process::ExitCode;

use tenancy_bench::report::{Inputs, render};

fn main() -> ExitCode {
    let path = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "BENCHMARKS.md".to_owned());
    let inputs = Inputs::read(&tenancy_bench::target_dir());
    let Some(report) = render(&inputs) else {
        eprintln!(
            "bench-report: no results under {}; run `cargo bench -p tenancy-bench` first",
            inputs.criterion.display()
        );
        return ExitCode::FAILURE;
    };
    if let Err(err) = std::fs::write(&path, report) {
        eprintln!("bench-report: cannot write {path}: {err}");
        return ExitCode::FAILURE;
    }
    println!("bench-report: wrote {path}");
    ExitCode::SUCCESS
}

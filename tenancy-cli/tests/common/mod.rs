//! Running the `tenancy` binary as a user does.
#![allow(dead_code, unreachable_pub, clippy::unwrap_used)]

use std::process::{Command, Output};

/// `tenancy ARGS`, without a `DATABASE_URL` from the environment.
pub fn tenancy(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_tenancy"))
        .args(args)
        .env_remove("DATABASE_URL")
        .output()
        .unwrap()
}

/// Everything the command printed, standard output then standard error.
pub fn text(output: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    )
}

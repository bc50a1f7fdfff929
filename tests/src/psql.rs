//! Running SQL through `psql`, so the harness needs no async runtime.

use std::path::Path;
use std::process::{Command, Stdio};

use crate::HarnessError;

/// Runs `sql` against `url` with psql and returns its unaligned, tuples-only
/// output (one row per line, columns separated by `|`).
pub(crate) fn run(psql: &Path, url: &str, sql: &str) -> Result<String, HarnessError> {
    let output = Command::new(psql)
        .args([
            "-X",
            "-q",
            "-A",
            "-t",
            "-v",
            "ON_ERROR_STOP=1",
            "-d",
            url,
            "-c",
            sql,
        ])
        .env("PGCONNECT_TIMEOUT", "10")
        .env("PGAPPNAME", crate::HARNESS_APPLICATION_NAME)
        .stdin(Stdio::null())
        .output()
        .map_err(HarnessError::io("running psql"))?;
    if output.status.success() {
        Ok(String::from_utf8_lossy(&output.stdout)
            .trim_end()
            .to_owned())
    } else {
        Err(HarnessError::Command {
            what: format!("psql {sql:?}"),
            output: String::from_utf8_lossy(&output.stderr).into_owned(),
        })
    }
}

//! Finding the PostgreSQL binaries and running them as the right OS user.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::HarnessError;

/// The directory holding `initdb`, `postgres` and `psql`.
#[derive(Debug, Clone)]
pub(crate) struct PgBin {
    dir: PathBuf,
    /// `Some(user)` when running as root: server binaries run as that user.
    run_as: Option<String>,
}

const NEEDED: [&str; 3] = ["initdb", "postgres", "psql"];

impl PgBin {
    /// Finds the binaries: `$TENANCY_PG_BIN`, then where `initdb` on `PATH`
    /// really lives, then Debian's `/usr/lib/postgresql/<version>/bin`
    /// (newest first), then `/usr/local/pgsql/bin`.
    pub(crate) fn find() -> Result<Self, HarnessError> {
        let dir = find_dir(&candidate_dirs())?;
        let run_as = if is_root() {
            if !user_exists("postgres") {
                return Err(HarnessError::NoPostgresUser);
            }
            Some("postgres".to_owned())
        } else {
            None
        };
        Ok(Self { dir, run_as })
    }

    /// The user server processes run as, when it is not the current one.
    pub(crate) fn run_as(&self) -> Option<&str> {
        self.run_as.as_deref()
    }

    /// A command for a server binary (`initdb`, `postgres`), run as the
    /// `postgres` OS user when the harness runs as root.
    pub(crate) fn server_command(&self, name: &str) -> Command {
        self.command_as_server_user(&self.dir.join(name))
    }

    /// A command for any binary (such as `pgbouncer`), run as the server's
    /// OS user when the harness runs as root.
    pub(crate) fn command_as_server_user(&self, bin: &Path) -> Command {
        match &self.run_as {
            Some(user) => {
                let mut cmd = Command::new("setpriv");
                cmd.arg(format!("--reuid={user}"))
                    .arg(format!("--regid={user}"))
                    .arg("--init-groups")
                    .arg("--")
                    .arg(bin);
                cmd
            }
            None => Command::new(bin),
        }
    }

    /// The path of a client binary (`psql`), run as the current user.
    pub(crate) fn client(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }
}

pub(crate) fn candidate_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(dir) = std::env::var_os("TENANCY_PG_BIN") {
        dirs.push(PathBuf::from(dir));
    }
    if let Some(path) = std::env::var_os("PATH") {
        for dir in std::env::split_paths(&path) {
            let initdb = dir.join("initdb");
            if let Some(parent) = initdb.canonicalize().ok().as_deref().and_then(Path::parent) {
                dirs.push(parent.to_path_buf());
            }
        }
    }
    let mut versioned: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = entry.file_name().to_str()?.parse().ok()?;
            Some((version, entry.path().join("bin")))
        })
        .collect();
    versioned.sort_by_key(|(version, _)| std::cmp::Reverse(*version));
    dirs.extend(versioned.into_iter().map(|(_, dir)| dir));
    dirs.push(PathBuf::from("/usr/local/pgsql/bin"));
    dirs
}

/// The first directory that holds every needed binary.
pub(crate) fn find_dir(candidates: &[PathBuf]) -> Result<PathBuf, HarnessError> {
    candidates
        .iter()
        .find(|dir| NEEDED.iter().all(|name| is_file(&dir.join(name))))
        .cloned()
        .ok_or_else(|| HarnessError::BinariesMissing {
            searched: candidates.to_vec(),
        })
}

fn is_file(path: &Path) -> bool {
    path.metadata().is_ok_and(|m| m.is_file())
}

/// Whether this process runs as root (effective uid 0).
pub(crate) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|status| {
            let line = status.lines().find(|l| l.starts_with("Uid:"))?;
            // Uid: real effective saved fs
            line.split_whitespace().nth(2).map(|euid| euid == "0")
        })
        .unwrap_or(false)
}

fn user_exists(name: &str) -> bool {
    std::fs::read_to_string("/etc/passwd")
        .is_ok_and(|passwd| passwd.lines().any(|l| l.split(':').next() == Some(name)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_binaries_give_an_install_hint() {
        let err = find_dir(&[PathBuf::from("/nonexistent/bin")]).unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("apt-get install -y postgresql"), "{msg}");
        assert!(msg.contains("/nonexistent/bin"), "{msg}");
    }
}

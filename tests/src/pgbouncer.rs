//! [`PgBouncer`]: a real pgbouncer in transaction pooling mode in front of
//! a test server.

use std::fmt::Write as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::binaries::PgBin;
use crate::cluster::{free_port, make_dir, spawn_watchdog, stop_child};
use crate::{APP_ROLE, HarnessError, OWNER_ROLE, PgServer};

/// A pgbouncer with `pool_mode = transaction`, listening on a random port of
/// 127.0.0.1 and forwarding every database to the test server. As root it
/// runs as the `postgres` OS user (pgbouncer refuses root). Dropping it
/// stops it by pid; a watchdog does so if the test process dies.
///
/// Transaction pooling is what most managed poolers do: a client keeps a
/// server connection only for the length of a transaction. Anything set at
/// session level then stays on a server connection that another client gets
/// next, which is why the SDK binds tenants per transaction.
#[derive(Debug)]
pub struct PgBouncer {
    child: Child,
    port: u16,
    dir: PathBuf,
}

impl PgBouncer {
    /// Starts pgbouncer in front of `server` with at most `pool_size` server
    /// connections per database and user.
    pub fn start(server: &PgServer, pool_size: u32) -> Result<Self, HarnessError> {
        Self::start_with_auth(server, pool_size, None)
    }

    /// [`start`](Self::start) with `auth_type = scram-sha-256`: every
    /// client proves its password, the harness's roles with their name as
    /// password, and the roles of `auth_lines` (lines of pgbouncer's
    /// `auth_file`, `"role" "SCRAM-SHA-256$..."`) with the password of
    /// their verifier. With the server's own verifier, pgbouncer logs in to
    /// the server with the client's proof: a pool per role, no password
    /// stored anywhere.
    pub fn start_authenticating(
        server: &PgServer,
        pool_size: u32,
        auth_lines: &str,
    ) -> Result<Self, HarnessError> {
        Self::start_with_auth(server, pool_size, Some(auth_lines))
    }

    fn start_with_auth(
        server: &PgServer,
        pool_size: u32,
        scram_lines: Option<&str>,
    ) -> Result<Self, HarnessError> {
        let bin = PgBin::find()?;
        let pgbouncer = find_pgbouncer()?;
        let (host, upstream_port) = server.host_port();
        let dir = make_dir(&bin)?;
        let port = free_port()?;
        let mut users = String::new();
        for role in [APP_ROLE, OWNER_ROLE, "postgres"] {
            let _ = writeln!(users, "\"{role}\" \"{role}\"");
        }
        users.push_str(scram_lines.unwrap_or_default());
        let auth_type = if scram_lines.is_some() {
            "scram-sha-256"
        } else {
            "trust"
        };
        write(&dir.join("users.txt"), &users)?;
        let ini = format!(
            "[databases]\n\
             * = host={host} port={upstream_port}\n\
             [pgbouncer]\n\
             listen_addr = 127.0.0.1\n\
             listen_port = {port}\n\
             unix_socket_dir = {dir}\n\
             auth_type = {auth_type}\n\
             auth_file = {dir}/users.txt\n\
             pool_mode = transaction\n\
             default_pool_size = {pool_size}\n\
             max_client_conn = 500\n\
             server_reset_query =\n\
             ignore_startup_parameters = extra_float_digits,options,search_path\n\
             logfile = {dir}/pgbouncer.log\n\
             pidfile = {dir}/pgbouncer.pid\n",
            dir = dir.display()
        );
        let ini_path = dir.join("pgbouncer.ini");
        write(&ini_path, &ini)?;
        if let Some(user) = bin.run_as() {
            let _ = std::process::Command::new("chown")
                .arg("-R")
                .arg(format!("{user}:"))
                .arg(&dir)
                .status();
        }
        let child = bin
            .command_as_server_user(&pgbouncer)
            .arg(&ini_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(HarnessError::io("starting pgbouncer"))?;
        let mut bouncer = Self { child, port, dir };
        spawn_watchdog(bouncer.child.id(), &bouncer.dir);
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() >= deadline || matches!(bouncer.child.try_wait(), Ok(Some(_))) {
                let log =
                    std::fs::read_to_string(bouncer.dir.join("pgbouncer.log")).unwrap_or_default();
                stop_child(&mut bouncer.child);
                return Err(HarnessError::Command {
                    what: format!("pgbouncer on port {port} did not start"),
                    output: log,
                });
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        Ok(bouncer)
    }

    /// The port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A URL for `role` on `database` through pgbouncer.
    pub fn url(&self, role: &str, database: &str) -> String {
        format!(
            "postgres://{role}:{role}@127.0.0.1:{}/{database}",
            self.port
        )
    }
}

impl Drop for PgBouncer {
    fn drop(&mut self) {
        stop_child(&mut self.child);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write(path: &Path, contents: &str) -> Result<(), HarnessError> {
    std::fs::write(path, contents).map_err(HarnessError::io(format!("writing {}", path.display())))
}

fn find_pgbouncer() -> Result<PathBuf, HarnessError> {
    let mut dirs: Vec<PathBuf> = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).collect())
        .unwrap_or_default();
    dirs.extend(["/usr/sbin", "/usr/bin", "/usr/local/bin"].map(PathBuf::from));
    dirs.into_iter()
        .map(|d| d.join("pgbouncer"))
        .find(|p| p.is_file())
        .ok_or(HarnessError::PgBouncerMissing)
}

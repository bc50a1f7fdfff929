//! [`PgCluster`]: a throwaway PostgreSQL cluster owned by this process.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::HarnessError;
use crate::binaries::PgBin;
use crate::psql;
use tenancy_core::rls::sealed::SEALED_GROUP_ROLE as SEALED_GROUP;

/// A PostgreSQL cluster in a temporary directory, listening on a random port
/// of 127.0.0.1 and on a Unix socket in that directory, with trust
/// authentication (except for members of `tenancy_sealed`, sealed tenants'
/// login roles, which need their SCRAM password over TCP) and durability
/// switched off for speed.
///
/// When the harness runs as root, `initdb` and `postgres` run as the
/// `postgres` OS user. Dropping the cluster stops the server by its pid (fast
/// shutdown) and removes the directory. A small watchdog process does the
/// same if this process dies without dropping it (a `static`, a panic that
/// aborts, `SIGKILL`), so no server or directory outlives the test run.
#[derive(Debug)]
pub struct PgCluster {
    bin: PgBin,
    dir: PathBuf,
    port: u16,
    server: Child,
    started_in: Duration,
}

static NEXT: AtomicUsize = AtomicUsize::new(0);

impl PgCluster {
    /// Creates and starts a new cluster. Takes about a second.
    pub fn start() -> Result<Self, HarnessError> {
        let began = Instant::now();
        let bin = PgBin::find()?;
        let dir = make_dir(&bin)?;
        match Self::init_and_start(bin, &dir, began) {
            Ok(cluster) => Ok(cluster),
            Err(err) => {
                let _ = std::fs::remove_dir_all(&dir);
                Err(err)
            }
        }
    }

    fn init_and_start(bin: PgBin, dir: &Path, began: Instant) -> Result<Self, HarnessError> {
        let data = dir.join("data");
        let output = bin
            .server_command("initdb")
            .arg("-D")
            .arg(&data)
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-N",
                "-E",
                "UTF8",
                "--locale=C",
            ])
            .env("LC_ALL", "C")
            .stdin(Stdio::null())
            .output()
            .map_err(HarnessError::io("running initdb"))?;
        if !output.status.success() {
            return Err(HarnessError::Command {
                what: "initdb".into(),
                output: format!(
                    "{}{}",
                    String::from_utf8_lossy(&output.stdout),
                    String::from_utf8_lossy(&output.stderr)
                ),
            });
        }

        // Sealed tenants' login roles (members of `tenancy_sealed`) must
        // prove their password over TCP, as in production; every other role
        // is trusted.
        let hba = data.join("pg_hba.conf");
        let rest =
            std::fs::read_to_string(&hba).map_err(HarnessError::io("reading pg_hba.conf"))?;
        std::fs::write(
            &hba,
            format!(
                "host all +{SEALED_GROUP} 127.0.0.1/32 scram-sha-256\n\
                 host all +{SEALED_GROUP} ::1/128 scram-sha-256\n{rest}"
            ),
        )
        .map_err(HarnessError::io("writing pg_hba.conf"))?;

        // A port that was free a moment ago can be taken by the time the
        // server binds it; try a few.
        let mut last_err = None;
        for _ in 0..5 {
            let port = free_port()?;
            match start_server(&bin, dir, &data, port) {
                Ok(server) => {
                    let cluster = Self {
                        bin,
                        dir: dir.to_path_buf(),
                        port,
                        server,
                        started_in: began.elapsed(),
                    };
                    spawn_watchdog(cluster.server.id(), &cluster.dir);
                    return Ok(cluster);
                }
                Err(err) => last_err = Some(err),
            }
        }
        Err(last_err.unwrap_or_else(|| HarnessError::Command {
            what: "starting postgres".into(),
            output: "no attempt made".into(),
        }))
    }

    /// The TCP port on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.server.id()
    }

    /// The temporary directory holding data, socket and log.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// How long `initdb` plus server start took.
    pub fn started_in(&self) -> Duration {
        self.started_in
    }

    /// A URL for the superuser `postgres` on database `database`.
    pub fn superuser_url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// The `psql` of the same installation as the server.
    pub(crate) fn psql(&self) -> PathBuf {
        self.bin.client("psql")
    }

    /// Stops the server (fast shutdown) and removes the directory. Dropping
    /// the cluster does the same.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        stop_child(&mut self.server);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Stops a server process by pid: SIGINT (PostgreSQL's fast shutdown,
/// pgbouncer's safe shutdown), then SIGKILL after 10 s.
pub(crate) fn stop_child(child: &mut Child) {
    let pid = child.id().to_string();
    let _ = Command::new("kill").args(["-INT", &pid]).status();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match child.try_wait() {
            Ok(Some(_)) | Err(_) => break,
            Ok(None) if Instant::now() >= deadline => {
                let _ = child.kill();
                let _ = child.wait();
                break;
            }
            Ok(None) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

pub(crate) fn make_dir(bin: &PgBin) -> Result<PathBuf, HarnessError> {
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("tenancy-pg-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir(&dir).map_err(HarnessError::io(format!("creating {}", dir.display())))?;
    if let Some(user) = bin.run_as() {
        let status = Command::new("chown")
            .arg(format!("{user}:"))
            .arg(&dir)
            .status()
            .map_err(HarnessError::io("running chown"))?;
        if !status.success() {
            return Err(HarnessError::Command {
                what: format!("chown {user} {}", dir.display()),
                output: status.to_string(),
            });
        }
    }
    Ok(dir)
}

pub(crate) fn free_port() -> Result<u16, HarnessError> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(HarnessError::io("finding a free port"))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(HarnessError::io("finding a free port"))
}

fn start_server(bin: &PgBin, dir: &Path, data: &Path, port: u16) -> Result<Child, HarnessError> {
    let log_path = dir.join(format!("postgres-{port}.log"));
    let log = std::fs::File::create(&log_path)
        .map_err(HarnessError::io(format!("creating {}", log_path.display())))?;
    let log_err = log
        .try_clone()
        .map_err(HarnessError::io("duplicating the log file handle"))?;
    let mut server = bin
        .server_command("postgres")
        .arg("-D")
        .arg(data)
        .arg("-p")
        .arg(port.to_string())
        .args(["-c", "listen_addresses=127.0.0.1"])
        .arg("-c")
        .arg(format!("unix_socket_directories={}", dir.display()))
        .args([
            "-c",
            "fsync=off",
            "-c",
            "synchronous_commit=off",
            "-c",
            "full_page_writes=off",
        ])
        .args(["-c", "max_connections=300", "-c", "shared_buffers=128MB"])
        .stdin(Stdio::null())
        .stdout(log)
        .stderr(log_err)
        .spawn()
        .map_err(HarnessError::io("starting postgres"))?;

    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if let Ok(Some(status)) = server.try_wait() {
            return Err(HarnessError::Command {
                what: format!("postgres on port {port} exited with {status}"),
                output: std::fs::read_to_string(&log_path).unwrap_or_default(),
            });
        }
        if psql::run(&bin.client("psql"), &url, "SELECT 1").is_ok() {
            return Ok(server);
        }
        if Instant::now() >= deadline {
            let _ = server.kill();
            let _ = server.wait();
            return Err(HarnessError::Command {
                what: format!("postgres on port {port} did not accept connections within 30 s"),
                output: std::fs::read_to_string(&log_path).unwrap_or_default(),
            });
        }
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// Watches this process and the server `pid`: when this process is gone
/// while the server still runs, stops the server (SIGINT, then SIGKILL) and
/// removes `dir`.
pub(crate) fn spawn_watchdog(pid: u32, dir: &Path) {
    // `kill -0` succeeds on zombies, and PID 1 of a container may never
    // reap them, so "alive" means: exists and is not in state Z.
    let script = r#"
        alive() { [ -r "/proc/$1/stat" ] && read -r _ _ state _ < "/proc/$1/stat" && [ "$state" != Z ]; }
        while alive "$1" && alive "$2"; do sleep 0.2; done
        if alive "$2"; then
            kill -INT "$2" 2>/dev/null
            i=0; while alive "$2" && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
            alive "$2" && kill -KILL "$2" 2>/dev/null
        fi
        sleep 0.2
        rm -rf "$3"
    "#;
    let _ = Command::new("sh")
        .arg("-c")
        .arg(script)
        .arg("tenancy-pg-watchdog")
        .arg(std::process::id().to_string())
        .arg(pid.to_string())
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn();
}

//! [`PgServer`]: the PostgreSQL server that tests run against.

use std::path::PathBuf;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::binaries::PgBin;
use crate::{APP_ROLE, HarnessError, OWNER_ROLE, PROVISIONER_ROLE, PgCluster, TestDatabase, psql};

/// Where tests get their databases: a throwaway [`PgCluster`], or an existing
/// server named by `DATABASE_URL` (an administrator URL: a superuser, or a
/// role with `CREATEDB` and `CREATEROLE`).
///
/// Either way the server has the two roles tests need:
/// [`OWNER_ROLE`], which owns each test database and its tables, and
/// [`APP_ROLE`], a login role that is **not** a superuser, not an owner and
/// has no `BYPASSRLS`: the role a production application should use.
#[derive(Debug)]
pub struct PgServer {
    admin_url: String,
    kind: Kind,
}

#[derive(Debug)]
enum Kind {
    Cluster(PgCluster),
    External,
}

static SHARED: OnceLock<Result<PgServer, String>> = OnceLock::new();
static NEXT_DB: AtomicUsize = AtomicUsize::new(0);

impl PgServer {
    /// The server shared by every test in this process: started on first use
    /// (or taken from `DATABASE_URL`), stopped when the process exits.
    ///
    /// Fails (it never skips) with a message that says what to install when
    /// PostgreSQL cannot be found.
    pub fn shared() -> Result<&'static Self, HarnessError> {
        SHARED
            .get_or_init(|| Self::from_env_or_start().map_err(|err| err.to_string()))
            .as_ref()
            .map_err(|output| HarnessError::Command {
                what: "starting the shared PostgreSQL server".into(),
                output: output.clone(),
            })
    }

    /// Uses `DATABASE_URL` when it is set, otherwise starts a new cluster.
    pub fn from_env_or_start() -> Result<Self, HarnessError> {
        match std::env::var("DATABASE_URL") {
            Ok(url) if !url.is_empty() => Self::external(url),
            _ => Self::start(),
        }
    }

    /// Starts a new throwaway cluster and creates the test roles in it.
    pub fn start() -> Result<Self, HarnessError> {
        let cluster = PgCluster::start()?;
        eprintln!(
            "tenancy-testing: PostgreSQL started on 127.0.0.1:{} in {:.2} s",
            cluster.port(),
            cluster.started_in().as_secs_f64()
        );
        let server = Self {
            admin_url: cluster.superuser_url("postgres"),
            kind: Kind::Cluster(cluster),
        };
        server.create_roles()?;
        Ok(server)
    }

    /// Uses an existing server; `admin_url` must be able to create databases
    /// and roles.
    pub fn external(admin_url: impl Into<String>) -> Result<Self, HarnessError> {
        let server = Self {
            admin_url: admin_url.into(),
            kind: Kind::External,
        };
        server.create_roles()?;
        Ok(server)
    }

    /// The administrator URL.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// The cluster, when this server is a throwaway one.
    pub fn cluster(&self) -> Option<&PgCluster> {
        match &self.kind {
            Kind::Cluster(cluster) => Some(cluster),
            Kind::External => None,
        }
    }

    /// Host and port of the server (from the administrator URL).
    pub fn host_port(&self) -> (String, u16) {
        let rest = self
            .admin_url
            .split_once("://")
            .map_or(self.admin_url.as_str(), |(_, r)| r);
        let authority = rest.split(['/', '?']).next().unwrap_or(rest);
        let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
        match host_port.rsplit_once(':') {
            Some((host, port)) => (host.to_owned(), port.parse().unwrap_or(5432)),
            None => (host_port.to_owned(), 5432),
        }
    }

    /// Runs SQL as the administrator on the `postgres` database (or the one
    /// in `DATABASE_URL`) and returns psql's unaligned output.
    pub fn admin_sql(&self, sql: &str) -> Result<String, HarnessError> {
        psql::run(&self.psql(), &self.admin_url, sql)
    }

    /// Creates a fresh, empty database owned by [`OWNER_ROLE`], in which
    /// [`APP_ROLE`] may connect (but not create temporary tables, which could
    /// shadow tenant tables: `TEMPORARY` is revoked from `PUBLIC`) and gets `SELECT, INSERT, UPDATE, DELETE` on
    /// every table (and `USAGE, SELECT` on every sequence) that
    /// [`OWNER_ROLE`] creates in schema `public`.
    pub fn create_database(&self) -> Result<TestDatabase, HarnessError> {
        let name = format!(
            "tenancy_test_{}_{}",
            std::process::id(),
            NEXT_DB.fetch_add(1, Ordering::Relaxed)
        );
        self.admin_sql(&format!("CREATE DATABASE {name} OWNER {OWNER_ROLE}"))?;
        let db = TestDatabase {
            psql: self.psql(),
            server_admin_url: self.admin_url.clone(),
            admin_url: rewrite_url(&self.admin_url, None, &name),
            owner_url: self.url_for(OWNER_ROLE, &name),
            app_url: self.url_for(APP_ROLE, &name),
            provisioner_url: self.url_for(PROVISIONER_ROLE, &name),
            name,
        };
        db.admin_sql(&format!(
            "REVOKE ALL ON DATABASE {name} FROM PUBLIC; \
             GRANT CONNECT ON DATABASE {name} TO {APP_ROLE}; \
             GRANT CONNECT, CREATE ON DATABASE {name} TO {PROVISIONER_ROLE}; \
             ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER_ROLE} IN SCHEMA public \
               GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {APP_ROLE}; \
             ALTER DEFAULT PRIVILEGES FOR ROLE {OWNER_ROLE} IN SCHEMA public \
               GRANT USAGE, SELECT ON SEQUENCES TO {APP_ROLE};",
            name = db.name()
        ))?;
        Ok(db)
    }

    /// A URL for `role` (its password is its name) on `database`.
    pub fn url_for(&self, role: &str, database: &str) -> String {
        rewrite_url(&self.admin_url, Some(role), database)
    }

    pub(crate) fn psql(&self) -> PathBuf {
        match &self.kind {
            Kind::Cluster(cluster) => cluster.psql(),
            Kind::External => {
                PgBin::find().map_or_else(|_| PathBuf::from("psql"), |bin| bin.client("psql"))
            }
        }
    }

    fn create_roles(&self) -> Result<(), HarnessError> {
        let sql = format!(
            "DO $$ BEGIN \
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{OWNER_ROLE}') THEN \
                 CREATE ROLE {OWNER_ROLE} LOGIN PASSWORD '{OWNER_ROLE}' \
                   NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE; \
               END IF; \
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{PROVISIONER_ROLE}') THEN \
                 CREATE ROLE {PROVISIONER_ROLE} LOGIN PASSWORD '{PROVISIONER_ROLE}' \
                   NOSUPERUSER NOBYPASSRLS NOCREATEDB CREATEROLE; \
               END IF; \
               IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = '{APP_ROLE}') THEN \
                 CREATE ROLE {APP_ROLE} LOGIN PASSWORD '{APP_ROLE}' \
                   NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT; \
               END IF; \
             END $$;"
        );
        // Two test processes sharing one external server can race here; the
        // loser sees a duplicate-role error and succeeds on the second try.
        self.admin_sql(&sql)
            .or_else(|_| self.admin_sql(&sql))
            .map(drop)
    }
}

/// Replaces the database, and the user and password when `role` is given
/// (the password of a test role is its name), of a `postgres://` URL.
fn rewrite_url(url: &str, role: Option<&str>, database: &str) -> String {
    let (scheme, rest) = url.split_once("://").unwrap_or(("postgres", url));
    let (authority, tail) = rest.split_once('/').unwrap_or((rest, ""));
    let authority = match role {
        Some(role) => {
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            format!("{role}:{role}@{host}")
        }
        None => authority.to_owned(),
    };
    let query = tail
        .split_once('?')
        .map(|(_, q)| format!("?{q}"))
        .unwrap_or_default();
    format!("{scheme}://{authority}/{database}{query}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrite_url_replaces_user_and_database_and_keeps_the_rest() {
        assert_eq!(
            rewrite_url(
                "postgres://admin:secret@db.local:5433/postgres?sslmode=disable",
                Some("app"),
                "t1"
            ),
            "postgres://app:app@db.local:5433/t1?sslmode=disable"
        );
        assert_eq!(
            rewrite_url("postgresql://127.0.0.1:5432", Some("app"), "t1"),
            "postgresql://app:app@127.0.0.1:5432/t1"
        );
        assert_eq!(
            rewrite_url("postgres://admin:secret@db.local/postgres", None, "t1"),
            "postgres://admin:secret@db.local/t1"
        );
    }
}

//! [`TestDatabase`]: a fresh database for one test.

use std::path::PathBuf;

use crate::{HarnessError, psql};

/// A fresh database for one test, with URLs for the three roles that matter.
/// Made by [`PgServer::create_database`](crate::PgServer::create_database).
///
/// Dropping it drops the database (`WITH (FORCE)`).
#[derive(Debug)]
pub struct TestDatabase {
    pub(crate) psql: PathBuf,
    pub(crate) server_admin_url: String,
    pub(crate) name: String,
    pub(crate) admin_url: String,
    pub(crate) owner_url: String,
    pub(crate) app_url: String,
    pub(crate) provisioner_url: String,
}

impl TestDatabase {
    /// The database name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// A URL for the administrator (the superuser in a throwaway cluster).
    /// Use it only for what a test is about: superusers bypass RLS.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// A URL for [`OWNER_ROLE`](crate::OWNER_ROLE), which owns the database:
    /// run migrations with it.
    pub fn owner_url(&self) -> &str {
        &self.owner_url
    }

    /// A URL for [`APP_ROLE`](crate::APP_ROLE): not a superuser, not an
    /// owner, no `BYPASSRLS`. Application code under test connects with it.
    pub fn app_url(&self) -> &str {
        &self.app_url
    }

    /// A URL for [`PROVISIONER_ROLE`](crate::PROVISIONER_ROLE): may create
    /// schemas in this database and roles (`CREATEROLE`), for
    /// schema-per-tenant provisioning. Not a superuser.
    pub fn provisioner_url(&self) -> &str {
        &self.provisioner_url
    }

    /// Runs SQL as the administrator in this database and returns psql's
    /// unaligned output (rows on lines, columns separated by `|`).
    pub fn admin_sql(&self, sql: &str) -> Result<String, HarnessError> {
        psql::run(&self.psql, &self.admin_url, sql)
    }

    /// Runs SQL as [`OWNER_ROLE`](crate::OWNER_ROLE) in this database
    /// (migrations, fixtures).
    pub fn owner_sql(&self, sql: &str) -> Result<String, HarnessError> {
        psql::run(&self.psql, &self.owner_url, sql)
    }

    /// Runs SQL as [`APP_ROLE`](crate::APP_ROLE) in this database.
    pub fn app_sql(&self, sql: &str) -> Result<String, HarnessError> {
        psql::run(&self.psql, &self.app_url, sql)
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let _ = psql::run(
            &self.psql,
            &self.server_admin_url,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

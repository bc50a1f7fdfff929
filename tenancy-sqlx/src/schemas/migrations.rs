//! [`Migrations`]: the application's migrations, run inside each tenant
//! schema.

use std::path::Path;

use crate::{Error, Result};

/// One migration: a version, a description and SQL (one or more statements).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migration {
    /// Applied in ascending order; recorded per schema once applied.
    pub version: i64,
    /// What it does, for progress output.
    pub description: String,
    /// The SQL, run with the tenant's schema first on `search_path`: write
    /// unqualified names (`CREATE TABLE orders ...`).
    pub sql: String,
}

/// The migrations that make up a tenant schema, in version order.
///
/// Build them in code, or read a directory in sqlx's naming convention
/// (`<version>_<description>.sql`, e.g. `20240101000000_orders.sql`).
/// Reversible (`.up.sql`/`.down.sql`) pairs contribute their `up` file.
///
/// ```
/// use tenancy_sqlx::schemas::Migrations;
///
/// let migrations = Migrations::new()
///     .add(1, "orders", "CREATE TABLE orders (id bigint PRIMARY KEY, item text NOT NULL)")?
///     .add(2, "order quantity", "ALTER TABLE orders ADD quantity int NOT NULL DEFAULT 1")?;
/// assert_eq!(migrations.iter().count(), 2);
/// # Ok::<(), tenancy_sqlx::Error>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Migrations(Vec<Migration>);

impl Migrations {
    /// No migrations yet.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a migration; fails on a version that is already there.
    pub fn add(mut self, version: i64, description: &str, sql: &str) -> Result<Self> {
        if self.0.iter().any(|m| m.version == version) {
            return Err(Error::Migrations(format!(
                "version {version} appears twice; every migration needs its own version"
            )));
        }
        self.0.push(Migration {
            version,
            description: description.to_owned(),
            sql: sql.to_owned(),
        });
        self.0.sort_by_key(|m| m.version);
        Ok(self)
    }

    /// Reads `<version>_<description>.sql` files from `dir` (other files
    /// and `.down.sql` files are skipped).
    pub fn from_dir(dir: impl AsRef<Path>) -> Result<Self> {
        let dir = dir.as_ref();
        let unreadable =
            |e: std::io::Error| Error::Migrations(format!("cannot read {}: {e}", dir.display()));
        let mut migrations = Self::new();
        let mut entries = std::fs::read_dir(dir)
            .map_err(unreadable)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(unreadable)?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let name = entry.file_name().to_string_lossy().into_owned();
            // sqlx's convention is lowercase `.sql`; other names are not migrations.
            let Some(stem) = name.strip_suffix(".sql") else {
                continue;
            };
            if stem.rsplit('.').next() == Some("down") && stem.contains('.') {
                continue;
            }
            let stem = stem.strip_suffix(".up").unwrap_or(stem);
            let Some((version, description)) = stem.split_once('_') else {
                return Err(Error::Migrations(format!(
                    "{name}: expected <version>_<description>.sql"
                )));
            };
            let version: i64 = version.parse().map_err(|_| {
                Error::Migrations(format!("{name}: the version {version:?} is not a number"))
            })?;
            let sql = std::fs::read_to_string(entry.path()).map_err(unreadable)?;
            migrations = migrations.add(version, &description.replace('_', " "), &sql)?;
        }
        Ok(migrations)
    }

    /// The migrations in version order.
    pub fn iter(&self) -> std::slice::Iter<'_, Migration> {
        self.0.iter()
    }

    /// The highest version, if there is any migration.
    pub fn latest(&self) -> Option<i64> {
        self.0.last().map(|m| m.version)
    }
}

impl<'a> IntoIterator for &'a Migrations {
    type Item = &'a Migration;
    type IntoIter = std::slice::Iter<'a, Migration>;

    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_a_directory_in_version_order_and_rejects_twins() {
        let dir = std::env::temp_dir().join(format!("tenancy-migrations-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(
            dir.join("2_add_quantity.up.sql"),
            "ALTER TABLE orders ADD q int",
        )
        .unwrap();
        std::fs::write(
            dir.join("2_add_quantity.down.sql"),
            "ALTER TABLE orders DROP q",
        )
        .unwrap();
        std::fs::write(dir.join("1_orders.sql"), "CREATE TABLE orders (id int)").unwrap();
        std::fs::write(dir.join("README.md"), "not a migration").unwrap();
        let m = Migrations::from_dir(&dir).unwrap();
        let versions: Vec<_> = m
            .iter()
            .map(|m| (m.version, m.description.as_str()))
            .collect();
        assert_eq!(versions, [(1, "orders"), (2, "add quantity")]);
        std::fs::write(dir.join("1_again.sql"), "SELECT 1").unwrap();
        let err = Migrations::from_dir(&dir).unwrap_err();
        assert!(err.to_string().contains("version 1 appears twice"), "{err}");
        std::fs::write(dir.join("x_bad.sql"), "SELECT 1").unwrap();
        std::fs::remove_file(dir.join("1_again.sql")).unwrap();
        assert!(
            Migrations::from_dir(&dir)
                .unwrap_err()
                .to_string()
                .contains("not a number")
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

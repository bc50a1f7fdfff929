//! The manifest: which tables hold tenant rows, and their tenant column.
//!
//! A plain text file checked into the application's crate, next to its
//! `Cargo.toml`, one table per line:
//!
//! ```text
//! # tenancy manifest v1
//! tenant public.orders tenant_id
//! tenant public.order_lines tenant_id
//! tenant billing.invoices account_id bigint
//! shared public.plans
//! ```
//!
//! `tenant SCHEMA.TABLE COLUMN [TYPE]` declares a tenant table, its tenant
//! column and the column's type (`uuid` when left out; `bigint`, `integer`
//! or `text`); `shared SCHEMA.TABLE` a table every tenant may read. A table in
//! neither list is refused by the checker: a table added after the manifest
//! was written cannot slip through unchecked. The `tenancy manifest` command
//! writes the file from a live database, and `tenancy manifest --check`
//! (or `tenancy_sqlx::manifest::verify` in a test) fails when it is stale.

use std::fmt;
use std::path::Path;

/// The manifest's file name, looked up in the crate's root directory.
pub const FILE_NAME: &str = "tenancy.manifest";

/// The first line of every manifest; it names the format's version.
pub const HEADER: &str = "# tenancy manifest v1";

/// The types a tenant column may have, as the manifest writes them; the
/// first is the default.
pub const ID_TYPES: [&str; 4] = ["uuid", "bigint", "integer", "text"];

/// What the manifest says about one table.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct TableEntry {
    /// The table's schema.
    pub schema: String,
    /// The table's name.
    pub name: String,
    /// The tenant column; `None` for a shared table.
    pub tenant_column: Option<String>,
    /// The tenant column's type: one of [`ID_TYPES`] (`uuid` for a shared
    /// table, where it means nothing).
    pub id_type: &'static str,
}

impl TableEntry {
    /// A tenant table with its tenant column.
    pub fn tenant(schema: &str, name: &str, tenant_column: &str) -> Self {
        Self {
            schema: schema.to_owned(),
            name: name.to_owned(),
            tenant_column: Some(tenant_column.to_owned()),
            id_type: ID_TYPES[0],
        }
    }

    /// The same table with tenant ids of type `id_type` (`uuid`, `bigint`,
    /// `integer`, `text`; `character varying` and `int8`/`int4` are read as
    /// `text`, `bigint`, `integer`); `None` for a type a tenant id cannot have.
    pub fn with_id_type(mut self, id_type: &str) -> Option<Self> {
        self.id_type = id_type_named(id_type)?;
        Some(self)
    }

    /// A table shared by every tenant.
    pub fn shared(schema: &str, name: &str) -> Self {
        Self {
            schema: schema.to_owned(),
            name: name.to_owned(),
            tenant_column: None,
            id_type: ID_TYPES[0],
        }
    }

    /// `schema.name`, each part quoted when PostgreSQL needs it.
    pub fn qualified_sql(&self) -> String {
        format!("{}.{}", quote_ident(&self.schema), quote_ident(&self.name))
    }
}

/// The tables of one database, as the checker needs them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Manifest {
    tables: Vec<TableEntry>,
}

/// Why a manifest could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    /// The file is missing or unreadable.
    #[error(
        "cannot read the tenancy manifest {path}: {source}. Write it with `tenancy manifest --database-url URL --out {path}`"
    )]
    Unreadable {
        /// Where it was looked for.
        path: String,
        /// What the file system said.
        source: std::io::Error,
    },
    /// A line is not in the manifest's format.
    #[error(
        "tenancy manifest line {line}: {reason}; expected `tenant SCHEMA.TABLE COLUMN [TYPE]` or `shared SCHEMA.TABLE`. Regenerate it with `tenancy manifest`"
    )]
    Malformed {
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: String,
    },
}

impl Manifest {
    /// A manifest of these tables.
    pub fn new(mut tables: Vec<TableEntry>) -> Self {
        tables.sort();
        tables.dedup();
        Self { tables }
    }

    /// Reads the manifest at `path`.
    pub fn load(path: &Path) -> Result<Self, ManifestError> {
        let text = std::fs::read_to_string(path).map_err(|source| ManifestError::Unreadable {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&text)
    }

    /// Parses a manifest's text.
    pub fn parse(text: &str) -> Result<Self, ManifestError> {
        let mut tables = Vec::new();
        let mut lines = text.lines().enumerate();
        match lines.next() {
            Some((_, first)) if first.trim() == HEADER => {}
            _ => {
                return Err(ManifestError::Malformed {
                    line: 1,
                    reason: format!("the first line must be `{HEADER}`"),
                });
            }
        }
        for (index, line) in lines {
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let malformed = |reason: &str| ManifestError::Malformed {
                line: index + 1,
                reason: reason.to_owned(),
            };
            let words: Vec<&str> = line.split_whitespace().collect();
            let (kind, table, column, id_type) = match words.as_slice() {
                ["tenant", table, column] => ("tenant", *table, Some(*column), ID_TYPES[0]),
                ["tenant", table, column, id_type] => {
                    let Some(id_type) = id_type_named(id_type) else {
                        return Err(malformed(&format!(
                            "`{id_type}` is not a tenant id type (uuid, bigint, integer, text)"
                        )));
                    };
                    ("tenant", *table, Some(*column), id_type)
                }
                ["shared", table] => ("shared", *table, None, ID_TYPES[0]),
                [kind, ..] if *kind != "tenant" && *kind != "shared" => {
                    return Err(malformed(&format!("unknown kind `{kind}`")));
                }
                _ => return Err(malformed("wrong number of words")),
            };
            let Some((schema, name)) = table.split_once('.') else {
                return Err(malformed(&format!("`{table}` has no schema")));
            };
            if schema.is_empty() || name.is_empty() || name.contains('.') {
                return Err(malformed(&format!("`{table}` is not SCHEMA.TABLE")));
            }
            tables.push(TableEntry {
                schema: schema.to_owned(),
                name: name.to_owned(),
                tenant_column: column.map(str::to_owned),
                id_type,
            });
            debug_assert!(kind == "tenant" || column.is_none());
        }
        Ok(Self::new(tables))
    }

    /// Every table, sorted by schema and name.
    pub fn tables(&self) -> &[TableEntry] {
        &self.tables
    }

    /// The tables named `name` in any schema.
    pub fn named<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a TableEntry> + 'a {
        self.tables.iter().filter(move |t| t.name == name)
    }

    /// The table `schema.name`.
    pub fn get(&self, schema: &str, name: &str) -> Option<&TableEntry> {
        self.tables
            .iter()
            .find(|t| t.schema == schema && t.name == name)
    }
}

impl fmt::Display for Manifest {
    /// The manifest's text, as [`Manifest::parse`] reads it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "{HEADER}")?;
        writeln!(
            f,
            "# Which tables hold tenant rows, for tenancy's scoped SQL macros."
        )?;
        writeln!(
            f,
            "# Written by `tenancy manifest`; `tenancy manifest --check` fails when it is stale."
        )?;
        for table in &self.tables {
            match &table.tenant_column {
                Some(column) if table.id_type == ID_TYPES[0] => {
                    writeln!(f, "tenant {}.{} {column}", table.schema, table.name)?;
                }
                Some(column) => writeln!(
                    f,
                    "tenant {}.{} {column} {}",
                    table.schema, table.name, table.id_type
                )?,
                None => writeln!(f, "shared {}.{}", table.schema, table.name)?,
            }
        }
        Ok(())
    }
}

/// The manifest's name for a column type, if a tenant id can have it.
fn id_type_named(name: &str) -> Option<&'static str> {
    let name = name.trim();
    let canonical = match name {
        "int8" => "bigint",
        "int4" | "int" => "integer",
        _ if name.starts_with("character varying") || name.starts_with("varchar") => "text",
        _ => name,
    };
    ID_TYPES.into_iter().find(|t| *t == canonical)
}

/// `ident` as PostgreSQL reads it back unchanged: bare when it is a plain
/// lower-case identifier, double-quoted otherwise.
pub fn quote_ident(ident: &str) -> String {
    let plain = ident
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && ident
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if plain {
        ident.to_owned()
    } else {
        format!("\"{}\"", ident.replace('"', "\"\""))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips() {
        let manifest = Manifest::new(vec![
            TableEntry::tenant("public", "orders", "tenant_id"),
            TableEntry::shared("public", "plans"),
            TableEntry::tenant("billing", "invoices", "account_id")
                .with_id_type("int8")
                .unwrap(),
        ]);
        let text = manifest.to_string();
        assert!(
            text.contains("tenant billing.invoices account_id bigint\n"),
            "{text}"
        );
        assert!(text.contains("tenant public.orders tenant_id\n"), "{text}");
        assert_eq!(Manifest::parse(&text).ok(), Some(manifest));
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for (text, needle) in [
            ("tenant public.orders tenant_id\n", "first line"),
            (
                "# tenancy manifest v1\ntenant orders tenant_id\n",
                "no schema",
            ),
            (
                "# tenancy manifest v1\ntenant public.orders\n",
                "number of words",
            ),
            (
                "# tenancy manifest v1\nowned public.orders x\n",
                "unknown kind",
            ),
            (
                "# tenancy manifest v1\ntenant public.orders account_id numeric\n",
                "not a tenant id type",
            ),
        ] {
            let error = Manifest::parse(text).err().map(|e| e.to_string());
            assert!(
                error.as_deref().is_some_and(|e| e.contains(needle)),
                "{text:?}: {error:?}"
            );
        }
    }

    #[test]
    fn quotes_only_when_needed() {
        assert_eq!(quote_ident("orders"), "orders");
        assert_eq!(quote_ident("Orders"), "\"Orders\"");
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
    }
}

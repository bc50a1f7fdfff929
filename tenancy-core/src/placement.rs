//! [`Placement`]: where a tenant's data lives (shared tables, its own
//! schema, which server or database).

use std::fmt::{self, Write as _};

use serde::{Deserialize, Serialize};

use crate::rls::{Ident, InvalidName};
use crate::{TenantId, TenantIdType};

/// Where a tenant's data lives. Kept in the tenant's
/// [settings](crate::TenantSettings::placement), so it comes from the tenant
/// store like everything else about the tenant, and moving a tenant is a
/// change of its directory entry, not of the application's handlers.
///
/// | `schema` | `target` | model |
/// |---|---|---|
/// | `None` | `None` | shared tables with row-level security (the default) |
/// | `Some` | any | schema per tenant: transactions run with `search_path` set to it |
/// | any | `Some` | the tenant's data lives on this server or database (see the routers of `tenancy-sqlx`) |
///
/// A [sealed](Placement::sealed) tenant's transactions log in as its own
/// role, and the database keys its rows on that role rather than on a
/// setting (see [`rls::sealed`](crate::rls::sealed)): shared tables, any
/// target, no schema of its own.
///
/// ```
/// use tenancy_core::{Placement, SchemaName, TargetName, TenantId};
///
/// let id = TenantId::new_v4();
/// let placement = Placement::shared()
///     .with_schema(SchemaName::for_tenant(&id))
///     .with_target(TargetName::new("eu-2")?);
/// assert!(placement.schema().unwrap().as_str().starts_with("tenant_"));
/// # Ok::<(), tenancy_core::rls::InvalidName>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Placement {
    #[serde(skip_serializing_if = "Option::is_none")]
    schema: Option<SchemaName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    target: Option<TargetName>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    sealed: bool,
}

impl Placement {
    /// Shared tables under row-level security, on the default target.
    pub const fn shared() -> Self {
        Self {
            schema: None,
            target: None,
            sealed: false,
        }
    }

    /// Shared tables on the default target, for a sealed tenant: its
    /// transactions log in as its own role
    /// ([`SealedRole`](crate::rls::SealedRole)) and run only through a pool
    /// that has its credentials; every other pool refuses it
    /// ([`TenantError::Sealed`](crate::TenantError::Sealed)).
    ///
    /// ```
    /// use tenancy_core::Placement;
    ///
    /// assert!(Placement::sealed().is_sealed());
    /// assert!(!Placement::sealed().is_shared());
    /// ```
    pub const fn sealed() -> Self {
        Self {
            schema: None,
            target: None,
            sealed: true,
        }
    }

    /// The tenant's tables live in their own schema.
    #[must_use]
    pub fn with_schema(mut self, schema: SchemaName) -> Self {
        self.schema = Some(schema);
        self
    }

    /// The tenant's data lives on `target` (a shard or its own database).
    #[must_use]
    pub fn with_target(mut self, target: TargetName) -> Self {
        self.target = Some(target);
        self
    }

    /// The tenant's own schema, if it has one.
    pub fn schema(&self) -> Option<&SchemaName> {
        self.schema.as_ref()
    }

    /// The connection target named for the tenant, if any.
    pub fn target(&self) -> Option<&TargetName> {
        self.target.as_ref()
    }

    /// Whether the tenant is sealed: its transactions log in as its own
    /// role.
    pub fn is_sealed(&self) -> bool {
        self.sealed
    }

    /// Whether this is the default: shared tables, default target, not
    /// sealed.
    pub fn is_shared(&self) -> bool {
        self.schema.is_none() && self.target.is_none() && !self.sealed
    }
}

/// The name of a tenant's own schema: a validated identifier (`a-z`, `0-9`,
/// `_`, at most 63 bytes), not `public` and not a system schema (`pg_*`,
/// `information_schema`). Written into SQL double-quoted.
///
/// ```
/// use tenancy_core::SchemaName;
///
/// assert!(SchemaName::new("tenant_acme").is_ok());
/// assert!(SchemaName::new("public").is_err());
/// assert!(SchemaName::new("pg_catalog").is_err());
/// assert!(SchemaName::new("acme\"; DROP SCHEMA public; --").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SchemaName(Box<str>);

impl SchemaName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self, InvalidName> {
        crate::rls::check_ident("schema name", name)?;
        if name == "public" || name == "information_schema" || name.starts_with("pg_") {
            return Err(InvalidName::new(
                "schema name",
                name,
                "public and system schemas cannot belong to a tenant",
            ));
        }
        Ok(Self(name.into()))
    }

    /// The conventional schema of a tenant: `tenant_` and the id (a UUID's
    /// 32 hex digits, an integer's digits, a text id lowercased with other
    /// characters replaced by `_` and, when anything was replaced, a hash of
    /// the exact id). Stable when the tenant's slug changes, distinct for
    /// distinct ids, and always valid.
    pub fn for_tenant<K: TenantIdType>(id: &TenantId<K>) -> Self {
        Self(format!("tenant_{}", id.value().schema_suffix()).into())
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name double-quoted, ready for SQL.
    pub fn sql(&self) -> String {
        format!("\"{}\"", self.0)
    }

    /// SQL that provisions the schema, for a role that may create schemas
    /// and roles; safe to run again. It creates the schema and a `NOLOGIN`
    /// role of the same name that may use the schema and read and write
    /// the tables created in it later (by the role running this SQL), and
    /// makes `app_role` a member of that role, so tenant transactions can
    /// `SET LOCAL ROLE` to it. When the role running it owns the database
    /// (or is a superuser), it also revokes `TEMPORARY` from `PUBLIC`, which
    /// the tenant roles would otherwise inherit (a temporary table can
    /// shadow a tenant table). Run the application's migrations in the
    /// schema afterwards (`tenancy_sqlx::schemas` does both).
    ///
    /// ```
    /// use tenancy_core::SchemaName;
    /// use tenancy_core::rls::Ident;
    ///
    /// let sql = SchemaName::new("tenant_acme")?.provision_sql(Some(&Ident::new("app")?));
    /// assert!(sql.contains("CREATE SCHEMA IF NOT EXISTS \"tenant_acme\";"));
    /// assert!(sql.contains("GRANT \"tenant_acme\" TO \"app\";"));
    /// # Ok::<(), tenancy_core::rls::InvalidName>(())
    /// ```
    pub fn provision_sql(&self, app_role: Option<&Ident>) -> String {
        let s = self.sql();
        let mut sql = format!(
            "CREATE SCHEMA IF NOT EXISTS {s};\n\
             DO $$ BEGIN CREATE ROLE {s} NOLOGIN;\n\
             EXCEPTION WHEN duplicate_object THEN NULL; END $$;\n\
             GRANT USAGE ON SCHEMA {s} TO {s};\n\
             ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO {s};\n\
             ALTER DEFAULT PRIVILEGES IN SCHEMA {s} GRANT USAGE, SELECT ON SEQUENCES TO {s};\n\
             DO $$ BEGIN IF pg_has_role(current_user, (SELECT datdba FROM pg_database \
             WHERE datname = current_database()), 'MEMBER') THEN \
             EXECUTE format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC', current_database()); \
             END IF; END $$;\n"
        );
        if let Some(app) = app_role {
            // Writing into a String cannot fail.
            let _ = writeln!(sql, "GRANT {s} TO {};", app.sql());
        }
        sql
    }
}

impl fmt::Display for SchemaName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for SchemaName {
    type Error = InvalidName;

    fn try_from(name: String) -> Result<Self, InvalidName> {
        Self::new(&name)
    }
}

impl From<SchemaName> for String {
    fn from(name: SchemaName) -> Self {
        name.0.into()
    }
}

/// The name of a connection target: a shard, a server, or a tenant's own
/// database, as configured in a router. 1 to 63 characters of `a-z`, `0-9`,
/// `-` and `_`.
///
/// ```
/// use tenancy_core::TargetName;
///
/// assert!(TargetName::new("shard-07").is_ok());
/// assert!(TargetName::new("").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TargetName(Box<str>);

impl TargetName {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self, InvalidName> {
        let valid = !name.is_empty()
            && name.len() <= 63
            && name
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if !valid {
            return Err(InvalidName::new(
                "target name",
                name,
                "a target name is 1 to 63 characters of a-z, 0-9, '-' and '_'",
            ));
        }
        Ok(Self(name.into()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for TargetName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl TryFrom<String> for TargetName {
    type Error = InvalidName;

    fn try_from(name: String) -> Result<Self, InvalidName> {
        Self::new(&name)
    }
}

impl From<TargetName> for String {
    fn from(name: TargetName) -> Self {
        name.0.into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_round_trips_through_json_and_rejects_bad_names() {
        let p = Placement::shared()
            .with_schema(SchemaName::new("tenant_acme").unwrap())
            .with_target(TargetName::new("shard-1").unwrap());
        let json = serde_json::to_value(&p).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"schema": "tenant_acme", "target": "shard-1"})
        );
        assert_eq!(serde_json::from_value::<Placement>(json).unwrap(), p);
        assert_eq!(
            serde_json::to_value(Placement::shared()).unwrap(),
            serde_json::json!({})
        );
        let bad = serde_json::from_value::<Placement>(serde_json::json!({"schema": "Bad;"}));
        assert!(bad.unwrap_err().to_string().contains("schema name"));
    }

    #[test]
    fn conventional_schema_names_are_valid() {
        let name = SchemaName::for_tenant(&TenantId::new_v4());
        assert_eq!(SchemaName::new(name.as_str()).unwrap(), name);
        assert_eq!(name.as_str().len(), 39);
    }
}

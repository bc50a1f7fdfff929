//! Sealed tenants: row-level security keyed on the login role
//! (`session_user`) instead of a setting, so SQL that runs inside a
//! tenant's transaction cannot name another tenant.
//!
//! A sealed tenant connects as its own login role ([`SealedRole`]), a
//! member of the group [`SEALED_GROUP_ROLE`] that holds the table
//! privileges. The table [`SEALED_ROLES_TABLE`] maps each login role to its
//! tenant. Two policies on every tenant table ([`TenantPolicy::sealed_sql`])
//! then say:
//!
//! - a session whose login role is a member of the group sees and writes
//!   only the rows of the tenant its login role is mapped to (no rows when
//!   it is not mapped), whatever the tenant setting says;
//! - any other session (the shared application role) never sees or writes
//!   the rows of a sealed tenant, whatever the tenant setting says.
//!
//! `session_user` changes only with `SET SESSION AUTHORIZATION`, which needs
//! a superuser; `SET ROLE` changes `current_user`, not `session_user`; a
//! `SECURITY DEFINER` function or a view runs its body as its owner but
//! under the caller's `session_user`. Nothing in the transaction can be
//! forged.
//!
//! ```
//! use tenancy_core::rls::{SealedRole, TenantPolicy};
//! use tenancy_core::TenantId;
//!
//! let sql = TenantPolicy::new("orders")?.sealed_sql();
//! assert!(sql.contains("AS RESTRICTIVE FOR ALL"));
//! assert!(sql.contains("session_user"));
//! let role = SealedRole::for_tenant(&TenantId::from(tenancy_core::uuid::Uuid::nil()));
//! assert_eq!(role.as_str(), "tenancy_sealed_00000000000000000000000000000000");
//! # Ok::<(), tenancy_core::rls::InvalidName>(())
//! ```

use std::fmt::{self, Write as _};

use super::{Ident, InvalidName, TenantPolicy, bounded_name, check_ident, ident::quoted};
use crate::{IdSqlType, TenantId, TenantIdType};

/// The group role of every sealed tenant's login role: it holds the table
/// privileges (`SELECT, INSERT, UPDATE, DELETE` on tenant tables), and the
/// policies treat its members as sealed sessions. Roles are cluster-wide:
/// one group serves every database of a server.
pub const SEALED_GROUP_ROLE: &str = "tenancy_sealed";

/// The table that maps each sealed login role to its tenant
/// (`role_name name PRIMARY KEY, tenant <id type> NOT NULL UNIQUE`).
pub const SEALED_ROLES_TABLE: &str = "public.tenancy_sealed_roles";

/// The name of the permissive policy that lets a sealed session see its
/// own tenant's rows.
pub const SEALED_POLICY_NAME: &str = "tenant_sealed";

/// The name of the restrictive policy that keeps sealed sessions to their
/// tenant and everybody else away from sealed tenants.
pub const SEALED_WALL_POLICY_NAME: &str = "tenant_sealed_wall";

/// The login role of a sealed tenant: `tenancy_sealed_` and the id as in
/// [`SchemaName::for_tenant`](crate::SchemaName::for_tenant), kept within
/// 63 bytes. Derived from the id, so it is the same on every server and in
/// every process.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SealedRole(Box<str>);

impl SealedRole {
    /// The conventional login role of the tenant `id`.
    pub fn for_tenant<K: TenantIdType>(id: &TenantId<K>) -> Self {
        Self(bounded_name(&format!("tenancy_sealed_{}", id.value().schema_suffix())).into())
    }

    /// A role of another name (`a-z`, `0-9`, `_`, at most 63 bytes).
    pub fn new(name: &str) -> Result<Self, InvalidName> {
        check_ident("role name", name)?;
        if name == SEALED_GROUP_ROLE {
            return Err(InvalidName::new(
                "role name",
                name,
                "the group of sealed roles cannot be a tenant's login role",
            ));
        }
        Ok(Self(name.into()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name double-quoted for SQL.
    pub fn sql(&self) -> String {
        quoted(&self.0)
    }
}

impl fmt::Display for SealedRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Set-up SQL of the sealed tier in one database: the group role and the
/// table that maps login roles to tenants, with its own protection.
///
/// ```
/// use tenancy_core::IdSqlType;
/// use tenancy_core::rls::SealedSetup;
///
/// let setup = SealedSetup::new(IdSqlType::Uuid).manager("tenancy_provisioner")?;
/// assert!(SealedSetup::group_role_sql().contains("CREATE ROLE tenancy_sealed NOLOGIN"));
/// assert!(setup.table_sql().contains("FORCE ROW LEVEL SECURITY"));
/// # Ok::<(), tenancy_core::rls::InvalidName>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedSetup {
    id_type: IdSqlType,
    manager: Option<Ident>,
}

impl SealedSetup {
    /// Set-up for tenant ids of `id_type`.
    pub fn new(id_type: IdSqlType) -> Self {
        Self {
            id_type,
            manager: None,
        }
    }

    /// The role that creates, rotates and drops sealed login roles (it
    /// needs `CREATEROLE`): the only role, besides the table's owner, that
    /// may change the map of roles to tenants.
    pub fn manager(mut self, role: &str) -> Result<Self, InvalidName> {
        check_ident("role name", role)?;
        self.manager = Some(Ident::new(role)?);
        Ok(self)
    }

    /// Creates [`SEALED_GROUP_ROLE`] when it does not exist: `NOLOGIN`, no
    /// attribute that bypasses anything. Run it once per server, as a role
    /// with `CREATEROLE`.
    pub fn group_role_sql() -> String {
        format!(
            "DO $tenancy$ BEGIN\n    \
             IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = '{SEALED_GROUP_ROLE}') THEN\n        \
             CREATE ROLE {SEALED_GROUP_ROLE} NOLOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;\n    \
             END IF;\n\
             EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; -- created concurrently\n\
             END $tenancy$;\n"
        )
    }

    /// Creates [`SEALED_ROLES_TABLE`] and lets the group connect to the
    /// database (a migration, as the owner of the tenant tables and of the
    /// database, after [`group_role_sql`](Self::group_role_sql)).
    /// Everybody may read it (the policies of the tenant tables do, in
    /// every session); only the [manager](Self::manager) may change it:
    /// its row-level security is forced and only the manager has a policy
    /// for writes, so a default privilege that grants the application role
    /// `INSERT` on every new table still cannot map a role to a tenant.
    pub fn table_sql(&self) -> String {
        let table = SEALED_ROLES_TABLE;
        let mut sql = format!(
            "CREATE TABLE IF NOT EXISTS {table} (\n    \
             role_name name PRIMARY KEY,\n    \
             tenant {ty} NOT NULL UNIQUE\n);\n\
             REVOKE ALL ON {table} FROM PUBLIC;\n\
             GRANT SELECT ON {table} TO PUBLIC;\n\
             ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n\
             ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n\
             DROP POLICY IF EXISTS tenancy_sealed_roles_read ON {table};\n\
             CREATE POLICY tenancy_sealed_roles_read ON {table} FOR SELECT USING (true);\n\
             DROP POLICY IF EXISTS tenancy_sealed_roles_manage ON {table};\n\
             DO $tenancy$ BEGIN\n    \
             EXECUTE format('GRANT CONNECT ON DATABASE %I TO {SEALED_GROUP_ROLE}', current_database());\n\
             END $tenancy$;\n",
            ty = self.id_type.as_str(),
        );
        if let Some(manager) = &self.manager {
            let _ = write!(
                sql,
                "GRANT INSERT, UPDATE, DELETE ON {table} TO {manager};\n\
                 CREATE POLICY tenancy_sealed_roles_manage ON {table} FOR ALL TO {manager} \
                 USING (true) WITH CHECK (true);\n",
                manager = manager.sql(),
            );
        }
        sql
    }
}

impl TenantPolicy {
    /// Adds the sealed tier to a table already under
    /// [`enable_sql`](Self::enable_sql): two policies keyed on
    /// `session_user` (see [the module](crate::rls::sealed)) and the
    /// group's privileges on the table. Needs [`SealedSetup`] first.
    /// Idempotent.
    ///
    /// Sessions of the shared application role keep the setting-keyed
    /// policy; they pay one more check per row (is this tenant sealed?),
    /// measured in `BENCHMARKS.md`.
    pub fn sealed_sql(&self) -> String {
        let (table, column) = (self.table().sql(), self.column().sql());
        let own = format!(
            "(SELECT s.tenant FROM {SEALED_ROLES_TABLE} s WHERE s.role_name = session_user)"
        );
        let wall = format!(
            "CASE WHEN (SELECT pg_has_role(session_user, '{SEALED_GROUP_ROLE}', 'MEMBER'))\n        \
             THEN {column} = {own}\n        \
             ELSE {column} <> ALL (SELECT s.tenant FROM {SEALED_ROLES_TABLE} s) END"
        );
        format!(
            "DROP POLICY IF EXISTS {SEALED_POLICY_NAME} ON {table};\n\
             CREATE POLICY {SEALED_POLICY_NAME} ON {table} AS PERMISSIVE FOR ALL\n    \
             USING ({column} = {own})\n    \
             WITH CHECK ({column} = {own});\n\
             DROP POLICY IF EXISTS {SEALED_WALL_POLICY_NAME} ON {table};\n\
             CREATE POLICY {SEALED_WALL_POLICY_NAME} ON {table} AS RESTRICTIVE FOR ALL\n    \
             USING ({wall})\n    \
             WITH CHECK ({wall});\n\
             GRANT SELECT, INSERT, UPDATE, DELETE ON {table} TO {SEALED_GROUP_ROLE};\n"
        )
    }
}

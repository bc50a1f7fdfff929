//! Cross-tenant access for staff, kept safe by the database itself: a role
//! of its own that reads (and, opted in, writes) across tenants only inside
//! a **session** that names an actor and a reason and was committed to the
//! trail before the first row is read.
//!
//! [`AdminSetup`] writes the SQL:
//!
//! - [`ADMIN_SESSIONS_TABLE`]: one row per session (actor, reason, the one
//!   tenant or every tenant, whether it may write), stamped by a trigger
//!   with the role, the backend and the transaction that opened it;
//!   append-only. Under row-level security: only the admin role (and the
//!   owner) see it, whatever privileges default grants gave others.
//! - [`ADMIN_WRITES_TABLE`]: one row per row an admin session wrote (table,
//!   operation, tenant, the row before and after); append-only.
//! - `tenancy_admin_scope(write)`: the scope of the session the current
//!   transaction runs under (`tenancy.admin_session`): `'*'`, one tenant
//!   id, or `NULL` when there is no valid session: opened by this role on
//!   this backend, in an **earlier, committed** transaction (a trail row
//!   that a rollback would erase does not count), less than 8 hours ago,
//!   and allowed to write when `write`.
//! - On each tenant table ([`AdminSetup::table_sql`]): a permissive policy
//!   for the admin role within its session's scope, restrictive policies
//!   that hold the admin role to that scope whatever else it sets (the
//!   tenant setting included), and a trigger that trails every row it
//!   writes.
//!
//! The policies name only the admin role: the application role is never
//! affected, and the admin role (no `BYPASSRLS`, not the owner) sees
//! nothing outside a session.
//!
//! ```
//! use tenancy_core::rls::AdminSetup;
//!
//! let setup = AdminSetup::new("tenancy_admin")?;
//! let sql = format!("{}{}", setup.schema_sql(), setup.table_sql("orders", "tenant_id")?);
//! assert!(sql.contains("CREATE TABLE IF NOT EXISTS tenancy_admin_sessions"));
//! assert!(sql.contains("AS RESTRICTIVE FOR DELETE TO \"tenancy_admin\""));
//! # Ok::<(), tenancy_core::rls::InvalidName>(())
//! ```

use super::{Ident, InvalidName, bounded_name, check_ident};

/// The table of admin sessions.
pub const ADMIN_SESSIONS_TABLE: &str = "tenancy_admin_sessions";

/// The table of rows written by admin sessions.
pub const ADMIN_WRITES_TABLE: &str = "tenancy_admin_writes";

/// The function whose call marks the admin policies (the audit looks for
/// it).
pub const ADMIN_SCOPE_FUNCTION: &str = "tenancy_admin_scope";

/// The transaction-local setting that names the session a transaction
/// runs under.
pub const ADMIN_SESSION_SETTING: &str = "tenancy.admin_session";

/// The name of the trigger that trails admin writes on a tenant table.
pub const ADMIN_TRAIL_TRIGGER: &str = "tenancy_admin_trail";

/// How long a session may be used after it was opened.
pub const ADMIN_SESSION_HOURS: u32 = 8;

/// The SQL of cross-tenant admin access (see the [module](self)).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSetup {
    role: Ident,
}

impl AdminSetup {
    /// For the admin role `role` (not the application role). Tenants are
    /// kept in the trail as text, whatever their id type.
    pub fn new(role: &str) -> Result<Self, InvalidName> {
        check_ident("admin role", role)?;
        Ok(Self {
            role: Ident::new(role)?,
        })
    }

    /// The admin role.
    pub fn role(&self) -> &str {
        self.role.as_str()
    }

    /// The trail tables, their triggers, the scope function, and the
    /// admin role's privileges on them. Run once, as the owner.
    pub fn schema_sql(&self) -> String {
        let role = self.role.sql();
        let role_literal = self.role.as_str();
        let hours = ADMIN_SESSION_HOURS;
        format!(
            "CREATE TABLE IF NOT EXISTS {ADMIN_SESSIONS_TABLE} (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    started_at timestamptz NOT NULL DEFAULT now(),
    actor text NOT NULL CHECK (btrim(actor) <> ''),
    reason text NOT NULL CHECK (length(btrim(reason)) >= 10),
    tenant text,
    writes boolean NOT NULL DEFAULT false,
    db_user name NOT NULL DEFAULT current_user,
    pid integer NOT NULL DEFAULT pg_backend_pid(),
    xact bigint NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS {ADMIN_WRITES_TABLE} (
    session_id bigint NOT NULL REFERENCES {ADMIN_SESSIONS_TABLE} (id),
    at timestamptz NOT NULL DEFAULT now(),
    table_name text NOT NULL,
    operation text NOT NULL,
    tenant text,
    old_row jsonb,
    new_row jsonb
);
CREATE INDEX IF NOT EXISTS {ADMIN_WRITES_TABLE}_session ON {ADMIN_WRITES_TABLE} (session_id);
CREATE OR REPLACE FUNCTION tenancy_admin_stamp() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    NEW.started_at := now();
    NEW.db_user := current_user;
    NEW.pid := pg_backend_pid();
    NEW.xact := pg_current_xact_id()::text::bigint;
    RETURN NEW;
END $$;
CREATE OR REPLACE FUNCTION tenancy_admin_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'the admin trail is append-only: % on %', TG_OP, TG_TABLE_NAME;
END $$;
DROP TRIGGER IF EXISTS stamp ON {ADMIN_SESSIONS_TABLE};
CREATE TRIGGER stamp BEFORE INSERT ON {ADMIN_SESSIONS_TABLE}
    FOR EACH ROW EXECUTE FUNCTION tenancy_admin_stamp();
DROP TRIGGER IF EXISTS append_only ON {ADMIN_SESSIONS_TABLE};
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON {ADMIN_SESSIONS_TABLE}
    FOR EACH ROW EXECUTE FUNCTION tenancy_admin_append_only();
DROP TRIGGER IF EXISTS append_only_truncate ON {ADMIN_SESSIONS_TABLE};
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON {ADMIN_SESSIONS_TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy_admin_append_only();
DROP TRIGGER IF EXISTS append_only ON {ADMIN_WRITES_TABLE};
CREATE TRIGGER append_only BEFORE UPDATE OR DELETE ON {ADMIN_WRITES_TABLE}
    FOR EACH ROW EXECUTE FUNCTION tenancy_admin_append_only();
DROP TRIGGER IF EXISTS append_only_truncate ON {ADMIN_WRITES_TABLE};
CREATE TRIGGER append_only_truncate BEFORE TRUNCATE ON {ADMIN_WRITES_TABLE}
    FOR EACH STATEMENT EXECUTE FUNCTION tenancy_admin_append_only();
CREATE OR REPLACE FUNCTION {ADMIN_SCOPE_FUNCTION}(write boolean DEFAULT false) RETURNS text
LANGUAGE sql STABLE AS $$
    SELECT coalesce(s.tenant, '*') FROM {ADMIN_SESSIONS_TABLE} s
    WHERE s.id = nullif(current_setting('{ADMIN_SESSION_SETTING}', true), '')::bigint
      AND s.db_user = current_user
      AND s.pid = pg_backend_pid()
      AND s.xact IS DISTINCT FROM pg_current_xact_id_if_assigned()::text::bigint
      AND s.started_at > now() - interval '{hours} hours'
      AND (s.writes OR NOT write)
$$;
CREATE OR REPLACE FUNCTION tenancy_admin_trail_row() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    old_row jsonb := CASE WHEN TG_OP IN ('UPDATE', 'DELETE') THEN to_jsonb(OLD) END;
    new_row jsonb := CASE WHEN TG_OP IN ('INSERT', 'UPDATE') THEN to_jsonb(NEW) END;
BEGIN
    INSERT INTO {ADMIN_WRITES_TABLE} (session_id, table_name, operation, tenant, old_row, new_row)
    VALUES (nullif(current_setting('{ADMIN_SESSION_SETTING}', true), '')::bigint,
            TG_TABLE_SCHEMA || '.' || TG_TABLE_NAME, TG_OP,
            coalesce(new_row, old_row) ->> TG_ARGV[0], old_row, new_row);
    RETURN NULL;
END $$;
REVOKE ALL ON {ADMIN_SESSIONS_TABLE}, {ADMIN_WRITES_TABLE} FROM PUBLIC;
ALTER TABLE {ADMIN_SESSIONS_TABLE} ENABLE ROW LEVEL SECURITY;
ALTER TABLE {ADMIN_WRITES_TABLE} ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS admin_only ON {ADMIN_SESSIONS_TABLE};
CREATE POLICY admin_only ON {ADMIN_SESSIONS_TABLE} TO {role} USING (true) WITH CHECK (true);
DROP POLICY IF EXISTS admin_only ON {ADMIN_WRITES_TABLE};
CREATE POLICY admin_only ON {ADMIN_WRITES_TABLE} FOR INSERT TO {role} WITH CHECK (true);
GRANT SELECT, INSERT ON {ADMIN_SESSIONS_TABLE} TO {role};
GRANT INSERT ON {ADMIN_WRITES_TABLE} TO {role};
COMMENT ON TABLE {ADMIN_SESSIONS_TABLE} IS 'tenancy: admin sessions of role {role_literal}';
",
        )
    }

    /// The admin policies and the write trail on one tenant table (and the
    /// admin role's table privileges; the policies decide which rows).
    pub fn table_sql(&self, table: &str, tenant_column: &str) -> Result<String, InvalidName> {
        let t = Ident::new(table)?;
        check_ident("tenant column", tenant_column)?;
        let column = format!("\"{tenant_column}\"");
        let role = self.role.sql();
        let read = format!("(SELECT {ADMIN_SCOPE_FUNCTION}(false)) IN ('*', {column}::text)");
        let write = format!("(SELECT {ADMIN_SCOPE_FUNCTION}(true)) IN ('*', {column}::text)");
        let name = |suffix: &str| {
            Ident::new(&bounded_name(&format!("tenancy_admin_{suffix}")))
                .map_or_else(|_| format!("tenancy_admin_{suffix}"), |i| i.sql())
        };
        Ok(format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON {t} TO {role};
DROP POLICY IF EXISTS {access} ON {t};
CREATE POLICY {access} ON {t} FOR ALL TO {role} USING ({read}) WITH CHECK ({write});
DROP POLICY IF EXISTS {held} ON {t};
CREATE POLICY {held} ON {t} AS RESTRICTIVE FOR SELECT TO {role} USING ({read});
DROP POLICY IF EXISTS {held_insert} ON {t};
CREATE POLICY {held_insert} ON {t} AS RESTRICTIVE FOR INSERT TO {role} WITH CHECK ({write});
DROP POLICY IF EXISTS {held_update} ON {t};
CREATE POLICY {held_update} ON {t} AS RESTRICTIVE FOR UPDATE TO {role} USING ({write}) WITH CHECK ({write});
DROP POLICY IF EXISTS {held_delete} ON {t};
CREATE POLICY {held_delete} ON {t} AS RESTRICTIVE FOR DELETE TO {role} USING ({write});
DROP TRIGGER IF EXISTS {ADMIN_TRAIL_TRIGGER} ON {t};
CREATE TRIGGER {ADMIN_TRAIL_TRIGGER} AFTER INSERT OR UPDATE OR DELETE ON {t}
    FOR EACH ROW WHEN (current_user = '{role_literal}')
    EXECUTE FUNCTION tenancy_admin_trail_row('{tenant_column}');
",
            t = t.sql(),
            access = name("access"),
            held = name("held"),
            held_insert = name("held_insert"),
            held_update = name("held_update"),
            held_delete = name("held_delete"),
            role_literal = self.role.as_str(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_admin_role_is_a_plain_identifier_and_named_in_every_grant_and_policy() {
        let setup = AdminSetup::new("tenancy_admin").unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(setup.role(), "tenancy_admin");
        let table = setup
            .table_sql("orders", "tenant_id")
            .unwrap_or_else(|e| unreachable!("{e}"));
        assert_eq!(table.matches("TO \"tenancy_admin\"").count(), 6, "{table}");
        assert!(table.contains("current_user = 'tenancy_admin'"), "{table}");
        for bad in ["", "Admin", "public.admin", "admin; DROP TABLE x"] {
            assert!(AdminSetup::new(bad).is_err(), "{bad:?}");
        }
        assert!(setup.table_sql("orders", "Tenant").is_err());
    }
}

//! The security audit: finds the database misconfigurations that make
//! tenant isolation leak (feature `audit`).
//!
//! Row-level security fails open silently when it is set up wrong: a table
//! without `FORCE`, a policy with `OR true`, a view owned by a superuser, an
//! application role with `BYPASSRLS`. [`audit`] reads the catalog of a live
//! database and reports each such problem as a [`Finding`] with a severity,
//! a stable code and a fix.
//!
//! ```
//! use tenancy_sqlx::audit::{AuditOptions, Severity, audit};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let db = tenancy_testing::test_database();
//! # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
//! # let pool = sqlx::PgPool::connect(db.app_url()).await?;
//! # let app_role = tenancy_testing::APP_ROLE; // the role the application connects as
//! let report = audit(&pool, &AuditOptions::default().app_role(app_role)).await?;
//! print!("{}", report.to_text());
//! assert!(!report.has_findings_at(Severity::High));
//! # Ok(()) }
//! ```
//!
//! What it checks, per table that has the tenant column:
//!
//! | code | severity | what |
//! |---|---|---|
//! | `rls_disabled` | critical | row-level security not enabled |
//! | `rls_not_forced` | high | not `FORCE`d: the owner bypasses it |
//! | `no_policy` | high | RLS on but no policy (every query fails; someone will switch RLS off) |
//! | `policy_fail_open` | critical | a policy that lets every row through when no tenant is set (`coalesce(setting, tenant_id)`, `setting IS NULL OR ...`) |
//! | `multiple_permissive_policies` | medium | more than one permissive policy for the same commands: combined with OR, as loose as the loosest |
//! | `policy_not_tenant_scoped` | critical | a permissive policy that does not compare the tenant column with the setting (`USING (true)`, another column) |
//! | `policy_or_widens` | high | a policy with `OR`, which can widen access beyond the tenant |
//! | `write_not_checked` | high | a policy for writes whose check does not pin the tenant (`WITH CHECK (true)`) |
//! | `setting_unset_unsafe` | medium | `current_setting` without `missing_ok`, or without `nullif(.., '')`: errors when no tenant is set |
//! | `policy_per_row_setting` | low | `current_setting` not wrapped in `(SELECT ...)`: evaluated per row (slow) |
//! | `tenant_column_nullable` | high | the tenant column allows NULL |
//! | `no_tenant_index` | low | no index leads with the tenant column (slow policies) |
//! | `unique_without_tenant` | medium | a unique key without the tenant column: its errors reveal other tenants' rows |
//! | `fk_without_index` | low | a foreign key whose columns no index leads with: cascades and deletes of referenced rows scan the table |
//! | `fk_without_tenant` | medium | a foreign key to another tenant table without the tenant column |
//! | `index_unusable_under_rls` | low | an index whose operators are not leakproof (LIKE, jsonb, full text): unusable under RLS |
//!
//! and across the database:
//!
//! | code | severity | what |
//! |---|---|---|
//! | `app_role_superuser` / `app_role_bypassrls` | critical | the application role skips RLS entirely |
//! | `app_role_owns_table` | critical | the application role owns (or is a member of the owner of) a tenant table |
//! | `app_role_temporary` | high | the application role may create temporary tables (`TEMPORARY`, granted to `PUBLIC` by default), which can shadow tenant tables |
//! | `app_role_member_of_roles` | medium | the application role can `SET ROLE` to other roles (in schema per tenant: every tenant's) |
//! | `table_reachable_without_rls` | medium | a table without tenant column and without RLS that the application role can use, not declared shared |
//! | `app_role_row_security_off` | medium | `row_security = off` is set for the application role |
//! | `app_role_missing` | high | the named application role does not exist |
//! | `view_bypasses_rls` | high | a view over a tenant table without `security_invoker` |
//! | `materialized_view` | critical | a materialized view over a tenant table (no RLS at all) |
//! | `security_definer_reads_tenant_table` | high | a `SECURITY DEFINER` function that mentions a tenant table |
//! | `sealed_map_writable` | critical | the map of sealed login roles to tenants is not protected: a role that can write it maps its login to another tenant |
//! | `sealed_policy_missing` | critical | sealed tenants exist but a tenant table lacks the sealed policies: the shared role reaches their rows there |
//! | `sealed_role_unsafe` | critical | a sealed login role (or their group) has `SUPERUSER`, `BYPASSRLS`, `CREATEROLE`, `REPLICATION`, a membership besides the group, or members |
//! | `security_definer_executable` | high | the application role may call a `SECURITY DEFINER` function, whatever it reads (`EXECUTE` goes to `PUBLIC` by default) |
//! | `security_definer_search_path` | high | a `SECURITY DEFINER` function without a fixed `search_path` |
//! | `table_without_tenant_column` | high | a table in a tenant-scoped schema without the tenant column |
//! | `admin_policy_reaches_app` | critical | a cross-tenant admin policy ([`AdminSetup`](tenancy_core::rls::AdminSetup)) applies to the application role or to `PUBLIC` |
//! | `admin_role_bypasses_trail` | high | the admin role is a superuser or has `BYPASSRLS`: it reads every tenant without a trailed session |
//! | `admin_session_not_enforced` | high | a tenant table with admin access lacks a restrictive admin policy for a command: the admin role gets in through the tenant setting, without a session |
//! | `admin_writes_untrailed` | high | admin sessions may write a tenant table whose writes are not trailed |

mod admin;
mod checks;
mod code;
mod expr;
mod functions;
mod reach;
mod report;
mod roles;
mod sealed;
mod views;

#[cfg(feature = "retrofit")]
pub(crate) use expr::security_invoker;
#[cfg(feature = "retrofit")]
pub(crate) use views::views_over;

pub use code::FindingCode;
pub use report::{Finding, Report, Severity};

use sqlx::PgConnection;
use tenancy_core::rls::SettingName;

/// What to audit and against which conventions.
#[derive(Debug, Clone)]
pub struct AuditOptions {
    pub(crate) tenant_column: String,
    pub(crate) setting: SettingName,
    pub(crate) app_role: Option<String>,
    pub(crate) tenant_schemas: Vec<String>,
    pub(crate) shared_tables: Vec<String>,
}

impl Default for AuditOptions {
    fn default() -> Self {
        Self {
            tenant_column: "tenant_id".to_owned(),
            setting: SettingName::default(),
            app_role: None,
            tenant_schemas: Vec::new(),
            shared_tables: Vec::new(),
        }
    }
}

impl AuditOptions {
    /// The tenant column (default `tenant_id`): tables with it are tenant tables.
    #[must_use]
    pub fn tenant_column(mut self, column: &str) -> Self {
        column.clone_into(&mut self.tenant_column);
        self
    }

    /// The setting policies must read (default `app.tenant_id`).
    #[must_use]
    pub fn setting(mut self, setting: SettingName) -> Self {
        self.setting = setting;
        self
    }

    /// The role the application connects as; checks it cannot bypass RLS.
    #[must_use]
    pub fn app_role(mut self, role: &str) -> Self {
        self.app_role = Some(role.to_owned());
        self
    }

    /// A schema in which **every** table must be a tenant table (except the
    /// [shared tables](Self::shared_table)).
    #[must_use]
    pub fn tenant_schema(mut self, schema: &str) -> Self {
        self.tenant_schemas.push(schema.to_owned());
        self
    }

    /// A table that is shared by all tenants on purpose (`schema.table` or
    /// `table`), such as the tenant directory.
    #[must_use]
    pub fn shared_table(mut self, table: &str) -> Self {
        self.shared_tables.push(table.to_owned());
        self
    }
}

impl AuditOptions {
    /// Whether `qualified` (`schema.table`) or `table` is declared shared,
    /// or is one of the SDK's own bookkeeping tables (the schema migrations'
    /// `_tenancy_migrations`).
    pub(crate) fn is_shared(&self, qualified: &str, table: &str) -> bool {
        table == crate::MIGRATIONS_TABLE
            || self
                .shared_tables
                .iter()
                .any(|s| s == qualified || s == table)
    }
}

/// Audits the database `conn` is connected to. Any role that can read the
/// system catalogs can run it; it changes nothing.
pub async fn audit(
    conn: impl sqlx::Acquire<'_, Database = sqlx::Postgres>,
    options: &AuditOptions,
) -> Result<Report, sqlx::Error> {
    let mut conn = conn.acquire().await?;
    audit_connection(&mut conn, options).await
}

async fn audit_connection(
    conn: &mut PgConnection,
    options: &AuditOptions,
) -> Result<Report, sqlx::Error> {
    let tables = checks::tenant_tables(conn, options).await?;
    let mut findings = Vec::new();
    for table in &tables {
        checks::table(conn, options, table, &tables, &mut findings).await?;
    }
    if let Some(role) = &options.app_role {
        roles::app_role(conn, role, &tables, &mut findings).await?;
        reach::app_role_reach(conn, options, role, &tables, &mut findings).await?;
    }
    views::views(conn, &tables, &mut findings).await?;
    functions::security_definer_functions(conn, options, &tables, &mut findings).await?;
    checks::tenant_schemas(conn, options, &mut findings).await?;
    sealed::sealed_tier(conn, &tables, &mut findings).await?;
    admin::admin_access(conn, options, &tables, &mut findings).await?;
    findings.sort_by(|a, b| {
        b.severity
            .cmp(&a.severity)
            .then_with(|| a.object.cmp(&b.object))
    });
    Ok(Report {
        tenant_tables: tables.iter().map(|t| t.name.clone()).collect(),
        findings,
    })
}

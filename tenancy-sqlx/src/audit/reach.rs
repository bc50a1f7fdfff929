//! What the application role can reach besides the tenant tables: other
//! roles it can become, and tables it can use without row-level security.

use sqlx::PgConnection;

use super::checks::{AuditedTable, finding};
use super::{AuditOptions, Finding, FindingCode, Severity};

/// How many role names a finding lists before it says "and N more".
const LISTED: usize = 5;

pub(crate) async fn app_role_reach(
    conn: &mut PgConnection,
    options: &AuditOptions,
    role: &str,
    tables: &[AuditedTable],
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    let object = format!("role {role}");
    let oids: Vec<i64> = tables.iter().map(|t| t.oid).collect();
    // Roles that own a tenant table are reported as `app_role_owns_table`,
    // and a superuser, a member of every role, as `app_role_superuser`.
    let roles: Vec<String> = sqlx::query_scalar(
        "SELECT r.rolname::text FROM pg_roles r
         WHERE EXISTS (SELECT 1 FROM pg_roles a WHERE a.rolname = $1 AND NOT a.rolsuper)
           AND pg_has_role($1, r.oid, 'MEMBER') AND r.rolname <> $1 AND r.rolname NOT LIKE 'pg\\_%'
           AND NOT EXISTS (SELECT 1 FROM pg_class c WHERE c.oid::int8 = ANY ($2) AND c.relowner = r.oid)
         ORDER BY 1",
    )
    .bind(role)
    .bind(&oids)
    .fetch_all(&mut *conn)
    .await?;
    if !roles.is_empty() {
        let more = match roles.len().checked_sub(LISTED) {
            Some(more) if more > 0 => format!(" and {more} more"),
            _ => String::new(),
        };
        let listed = format!("{}{more}", roles[..roles.len().min(LISTED)].join(", "));
        out.push(finding(
            Severity::Medium,
            FindingCode::AppRoleMemberOfRoles,
            &object,
            format!(
                "the role is a member of {} role(s) ({listed}): raw SQL (or SQL injection) can SET ROLE to any of them. \
                 In schema-per-tenant mode these are the tenants' roles, which the SDK switches to with SET LOCAL ROLE, \
                 so such SQL can also become another tenant",
                roles.len()
            ),
            "grant the application role only the roles it must switch to; keep raw SQL away from user input; \
             for schema per tenant, see docs/models.md",
        ));
    }
    let reachable: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.nspname || '.' || c.relname, c.relname::text FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND NOT c.relrowsecurity
           AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\\_%'
           AND NOT (n.nspname = ANY ($3)) AND NOT (c.oid::int8 = ANY ($2))
           AND EXISTS (SELECT 1 FROM pg_roles a WHERE a.rolname = $1)
           AND has_table_privilege($1, c.oid, 'SELECT, INSERT, UPDATE, DELETE')
         ORDER BY 1",
    )
    .bind(role)
    .bind(&oids)
    .bind(&options.tenant_schemas)
    .fetch_all(&mut *conn)
    .await?;
    for (qualified, table) in reachable {
        if options.is_shared(&qualified, &table) {
            continue;
        }
        out.push(finding(
            Severity::Medium,
            FindingCode::TableReachableWithoutRls,
            &qualified,
            format!(
                "the application role can use this table, which has no tenant column ({}) and no row-level security: \
                 every tenant sees and changes the same rows",
                options.tenant_column
            ),
            "if it is shared on purpose, declare it (AuditOptions::shared_table, tenancy audit --shared-table); \
             otherwise add the tenant column and policy (TenantPolicy::retrofit_sql) or revoke it from the role",
        ));
    }
    Ok(())
}

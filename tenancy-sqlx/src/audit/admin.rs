//! Cross-tenant admin access ([`AdminSetup`](tenancy_core::rls::AdminSetup)):
//! its policies reach only the admin role, that role cannot skip them, and
//! every table it may write trails its writes.

use sqlx::PgConnection;
use tenancy_core::rls::admin::{ADMIN_SCOPE_FUNCTION, ADMIN_TRAIL_TRIGGER};

use super::checks::{AuditedTable, finding};
use super::{AuditOptions, Finding, FindingCode, Severity};

/// Whether a policy expression is an admin policy's (calls the scope
/// function).
pub(super) fn is_admin_policy(expr: &str) -> bool {
    expr.to_ascii_lowercase().contains(ADMIN_SCOPE_FUNCTION)
}

/// An admin policy: name, roles (`public` for PUBLIC), whether it allows
/// writes, command, permissive.
type AdminPolicy = (String, Vec<String>, bool, String, bool);

pub(crate) async fn admin_access(
    conn: &mut PgConnection,
    options: &AuditOptions,
    tables: &[AuditedTable],
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    let mut admin_roles: Vec<String> = Vec::new();
    for table in tables {
        let policies = admin_policies(conn, table).await?;
        if policies.is_empty() {
            continue;
        }
        session_enforced(table, &policies, out);
        for (policy, roles, ..) in &policies {
            if reaches_app(conn, options, roles).await? {
                out.push(finding(
                    Severity::Critical,
                    FindingCode::AdminPolicyReachesApp,
                    format!("policy {policy} on {}", table.name),
                    format!(
                        "the admin policy applies to {}: the application role (or everyone) could open an admin session and read every tenant",
                        roles.join(", ")
                    ),
                    "give admin access its own role (AdminSetup::new(\"tenancy_admin\")), never the application role or PUBLIC",
                ));
            }
            for role in roles {
                if role != "public" && !admin_roles.contains(role) {
                    admin_roles.push(role.clone());
                }
            }
        }
        writes_trailed(conn, table, &policies, out).await?;
    }
    roles_keep_to_sessions(conn, &admin_roles, out).await
}

/// The admin policies on `table`.
async fn admin_policies(
    conn: &mut PgConnection,
    table: &AuditedTable,
) -> Result<Vec<AdminPolicy>, sqlx::Error> {
    sqlx::query_as(
            "SELECT polname::text,
                    ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE r::regrole::text END
                          FROM unnest(polroles) AS r),
                    polcmd <> 'r', polcmd::text, polpermissive
             FROM pg_policy
             WHERE polrelid = $1::int8::oid
               AND (coalesce(pg_get_expr(polqual, polrelid), '') || coalesce(pg_get_expr(polwithcheck, polrelid), ''))
                   ILIKE '%' || $2 || '%'
             ORDER BY 1",
        )
        .bind(table.oid)
        .bind(ADMIN_SCOPE_FUNCTION)
        .fetch_all(&mut *conn)
        .await
}

/// Every command needs a restrictive admin policy, or the tenant policy
/// (the tenant setting) lets the admin role in without a session.
fn session_enforced(table: &AuditedTable, policies: &[AdminPolicy], out: &mut Vec<Finding>) {
    let held = |cmd: &str| {
        policies
            .iter()
            .any(|(_, _, _, c, permissive)| !permissive && (c == cmd || c == "*"))
    };
    let unheld: Vec<&str> = [
        ("r", "SELECT"),
        ("a", "INSERT"),
        ("w", "UPDATE"),
        ("d", "DELETE"),
    ]
    .into_iter()
    .filter(|(cmd, _)| !held(cmd))
    .map(|(_, name)| name)
    .collect();
    if !unheld.is_empty() {
        out.push(finding(
            Severity::High,
            FindingCode::AdminSessionNotEnforced,
            &table.name,
            format!(
                "admin access is set up here, but no restrictive admin policy holds {}: the admin role gets there through the tenant setting, without a trailed session",
                unheld.join(", ")
            ),
            format!("apply AdminSetup::table_sql(\"{}\", ...)", table.table),
        ));
    }
}

/// Whether `roles` include `PUBLIC` or the application role (or a role
/// it is a member of).
async fn reaches_app(
    conn: &mut PgConnection,
    options: &AuditOptions,
    roles: &[String],
) -> Result<bool, sqlx::Error> {
    let Some(app) = &options.app_role else {
        return Ok(roles.iter().any(|r| r == "public"));
    };
    sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM unnest($2::text[]) AS r
                        WHERE r = 'public'
                           OR (EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $1)
                               AND pg_has_role($1, r::regrole, 'MEMBER')))",
    )
    .bind(app)
    .bind(roles)
    .fetch_one(&mut *conn)
    .await
}

/// A table admin sessions may write has the trail trigger, enabled.
async fn writes_trailed(
    conn: &mut PgConnection,
    table: &AuditedTable,
    policies: &[AdminPolicy],
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    let trailed: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_trigger
                        WHERE tgrelid = $1::int8::oid AND tgname = $2 AND tgenabled <> 'D')",
    )
    .bind(table.oid)
    .bind(ADMIN_TRAIL_TRIGGER)
    .fetch_one(&mut *conn)
    .await?;
    if policies.iter().any(|(_, _, writes, ..)| *writes) && !trailed {
        out.push(finding(
            Severity::High,
            FindingCode::AdminWritesUntrailed,
            &table.name,
            "admin sessions may write this table but its writes are not trailed (the tenancy_admin_trail trigger is missing or disabled)",
            format!("apply AdminSetup::table_sql(\"{}\", ...)", table.table),
        ));
    }
    Ok(())
}

/// The admin roles cannot skip row-level security, or they would read
/// without a session.
async fn roles_keep_to_sessions(
    conn: &mut PgConnection,
    roles: &[String],
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    for role in roles {
        let skips: Option<(bool, bool)> =
            sqlx::query_as("SELECT rolsuper, rolbypassrls FROM pg_roles WHERE rolname = $1")
                .bind(role.trim_matches('"'))
                .fetch_optional(&mut *conn)
                .await?;
        if let Some((superuser, bypass)) = skips
            && (superuser || bypass)
        {
            out.push(finding(
                Severity::High,
                FindingCode::AdminRoleBypassesTrail,
                format!("role {role}"),
                "the admin role skips row-level security (SUPERUSER or BYPASSRLS): it reads every tenant without opening a session, so nothing is trailed",
                format!("ALTER ROLE {role} NOSUPERUSER NOBYPASSRLS"),
            ));
        }
    }
    Ok(())
}

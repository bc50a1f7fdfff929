//! The application role: superuser, `BYPASSRLS`, owner, temporary tables,
//! membership, `row_security`.

use sqlx::PgConnection;

use super::checks::{AuditedTable, finding};
use super::{Finding, FindingCode, Severity};

pub(crate) async fn app_role(
    conn: &mut PgConnection,
    role: &str,
    tables: &[AuditedTable],
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    let row: Option<(bool, bool, bool)> = sqlx::query_as(
        "SELECT r.rolsuper, r.rolbypassrls,
                coalesce((SELECT bool_or(cfg = 'row_security=off') FROM pg_db_role_setting s, unnest(s.setconfig) AS cfg
                          WHERE s.setrole = r.oid), false)
         FROM pg_roles r WHERE r.rolname = $1",
    )
    .bind(role)
    .fetch_optional(&mut *conn)
    .await?;
    let object = format!("role {role}");
    let Some((superuser, bypass, row_security_off)) = row else {
        out.push(finding(
            Severity::High,
            FindingCode::AppRoleMissing,
            &object,
            "the application role does not exist, so it could not be checked",
            "pass the role the application connects as",
        ));
        return Ok(());
    };
    if superuser {
        out.push(finding(
            Severity::Critical,
            FindingCode::AppRoleSuperuser,
            &object,
            "superusers bypass row-level security, even FORCEd",
            format!("ALTER ROLE \"{role}\" NOSUPERUSER;"),
        ));
    }
    if bypass {
        out.push(finding(
            Severity::Critical,
            FindingCode::AppRoleBypassrls,
            &object,
            "BYPASSRLS skips every policy",
            format!("ALTER ROLE \"{role}\" NOBYPASSRLS;"),
        ));
    }
    if row_security_off {
        out.push(finding(
            Severity::Medium,
            FindingCode::AppRoleRowSecurityOff,
            &object,
            "row_security is set to off for the role: its queries on tenant tables fail instead of being filtered",
            format!("ALTER ROLE \"{role}\" RESET row_security;"),
        ));
    }
    if superuser {
        // A superuser "is a member of" every role; the finding above says it all.
        return Ok(());
    }
    let (temporary, revoke): (bool, String) = sqlx::query_as(
        "SELECT has_database_privilege($1, current_database(), 'TEMPORARY'),
                format('REVOKE TEMPORARY ON DATABASE %I FROM PUBLIC, %I;', current_database(), $1)",
    )
    .bind(role)
    .fetch_one(&mut *conn)
    .await?;
    if temporary {
        out.push(finding(
            Severity::High,
            FindingCode::AppRoleTemporary,
            &object,
            "the role may create temporary tables (directly, through PUBLIC, which has TEMPORARY by default, \
             or through a role it is a member of): a temporary table named like a tenant table shadows it \
             for later statements on the connection",
            revoke,
        ));
    }
    let oids: Vec<i64> = tables.iter().map(|t| t.oid).collect();
    let owned: Vec<String> = sqlx::query_scalar(
        "SELECT n.nspname || '.' || c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.oid::int8 = ANY ($2) AND pg_has_role($1, c.relowner, 'MEMBER') ORDER BY 1",
    )
    .bind(role)
    .bind(&oids)
    .fetch_all(&mut *conn)
    .await?;
    for table in owned {
        out.push(finding(
            Severity::Critical,
            FindingCode::AppRoleOwnsTable,
            &object,
            format!("the role owns {table} (or is a member of its owner): owners can disable row-level security and bypass it unless FORCEd"),
            "run migrations as a separate owner role; connect the application as a plain role with only SELECT/INSERT/UPDATE/DELETE",
        ));
    }
    Ok(())
}

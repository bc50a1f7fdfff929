//! `SECURITY DEFINER` functions: they run with their owner's rights, which
//! usually bypass row-level security.

use sqlx::PgConnection;

use super::checks::{AuditedTable, finding};
use super::expr::contains_word;
use super::{AuditOptions, Finding, FindingCode, Severity};

/// signature, source, fixed `search_path`, executable by the app role.
type DefinerRow = (String, String, bool, bool);

pub(crate) async fn security_definer_functions(
    conn: &mut PgConnection,
    options: &AuditOptions,
    tables: &[AuditedTable],
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    let functions: Vec<DefinerRow> = sqlx::query_as(
        "SELECT p.oid::regprocedure::text, coalesce(p.prosrc, ''),
                coalesce(EXISTS (SELECT 1 FROM unnest(p.proconfig) AS c WHERE c LIKE 'search\\_path=%'), false),
                $1::text IS NOT NULL AND EXISTS (SELECT 1 FROM pg_roles r WHERE r.rolname = $1)
                    AND has_function_privilege($1, p.oid, 'EXECUTE')
         FROM pg_proc p
         JOIN pg_namespace n ON n.oid = p.pronamespace
         WHERE p.prosecdef AND n.nspname NOT IN ('pg_catalog', 'information_schema') ORDER BY 1",
    )
    .bind(options.app_role.as_deref())
    .fetch_all(&mut *conn)
    .await?;
    for (function, source, fixed_path, executable) in functions {
        let object = format!("function {function}");
        let source = source.to_ascii_lowercase();
        let read: Vec<&str> = tables
            .iter()
            .filter(|t| contains_word(&source, &t.table))
            .map(|t| t.name.as_str())
            .collect();
        if !read.is_empty() {
            out.push(finding(
                Severity::High,
                FindingCode::SecurityDefinerReadsTenantTable,
                &object,
                format!("a SECURITY DEFINER function that uses {}: it runs with its owner's rights, which usually bypass RLS", read.join(", ")),
                "make it SECURITY INVOKER, or filter by the current tenant inside it and own it by a role subject to RLS",
            ));
        }
        if executable {
            out.push(finding(
                Severity::High,
                FindingCode::SecurityDefinerExecutable,
                &object,
                "the application role may call this SECURITY DEFINER function (EXECUTE is granted to PUBLIC by default): \
                 whatever it reads or writes, it does with its owner's rights, not the tenant's",
                format!("REVOKE EXECUTE ON FUNCTION {function} FROM PUBLIC; and grant it only to roles that need it, or make it SECURITY INVOKER"),
            ));
        }
        if !fixed_path {
            out.push(finding(
                Severity::High,
                FindingCode::SecurityDefinerSearchPath,
                &object,
                "a SECURITY DEFINER function without a fixed search_path resolves names through the caller's search_path: \
                 a caller's temporary table or function of the same name runs with the owner's rights",
                format!("ALTER FUNCTION {function} SET search_path = pg_catalog, public;"),
            ));
        }
    }
    Ok(())
}

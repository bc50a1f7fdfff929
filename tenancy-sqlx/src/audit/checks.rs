//! The catalog queries behind each check.

use sqlx::PgConnection;

use super::{AuditOptions, Finding, Severity};

/// A table that has the tenant column.
#[derive(Debug)]
pub(crate) struct TenantTable {
    pub(crate) oid: i64,
    /// `schema.table`.
    pub(crate) name: String,
    pub(crate) table: String,
    rls: bool,
    forced: bool,
    attnum: i16,
    not_null: bool,
}

impl TenantTable {
    fn sql_name(&self) -> String {
        self.name
            .split('.')
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(".")
    }
}

pub(super) fn finding(
    severity: Severity,
    code: &'static str,
    object: impl Into<String>,
    message: impl Into<String>,
    fix: impl Into<String>,
) -> Finding {
    Finding {
        severity,
        code,
        object: object.into(),
        message: message.into(),
        fix: fix.into(),
    }
}

pub(crate) async fn tenant_tables(
    conn: &mut PgConnection,
    options: &AuditOptions,
) -> Result<Vec<TenantTable>, sqlx::Error> {
    let rows: Vec<(i64, String, String, bool, bool, i16, bool)> = sqlx::query_as(
        "SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relrowsecurity, c.relforcerowsecurity,
                a.attnum, a.attnotnull
         FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         JOIN pg_attribute a ON a.attrelid = c.oid AND a.attname = $1 AND NOT a.attisdropped
         WHERE c.relkind IN ('r', 'p')
           AND n.nspname NOT IN ('pg_catalog', 'information_schema')
           AND n.nspname NOT LIKE 'pg\\_%'
         ORDER BY 2, 3",
    )
    .bind(&options.tenant_column)
    .fetch_all(&mut *conn)
    .await?;
    Ok(rows
        .into_iter()
        .map(
            |(oid, schema, table, rls, forced, attnum, not_null)| TenantTable {
                oid,
                name: format!("{schema}.{table}"),
                table,
                rls,
                forced,
                attnum,
                not_null,
            },
        )
        .collect())
}

/// Whether a policy expression restricts rows to the current tenant: it
/// compares the tenant column with the setting.
fn is_tenant_scoped(expr: &str, options: &AuditOptions) -> bool {
    let expr = expr.to_ascii_lowercase();
    expr.contains(&format!("current_setting('{}'", options.setting.as_str()))
        && contains_word(&without_literals(&expr), &options.tenant_column)
}

/// The expression with every `'...'` literal emptied, so names inside
/// strings (such as the setting `'app.tenant_id'`) do not count as columns.
fn without_literals(expr: &str) -> String {
    let mut out = String::with_capacity(expr.len());
    let mut in_literal = false;
    for c in expr.chars() {
        if c == '\'' {
            in_literal = !in_literal;
            out.push(c);
        } else if !in_literal {
            out.push(c);
        }
    }
    out
}

pub(super) fn contains_word(haystack: &str, word: &str) -> bool {
    let is_ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    haystack.match_indices(word).any(|(i, _)| {
        let before = haystack[..i].chars().next_back();
        let after = haystack[i + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

pub(crate) async fn table(
    conn: &mut PgConnection,
    options: &AuditOptions,
    table: &TenantTable,
    all: &[TenantTable],
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    let name = table.sql_name();
    if !table.rls {
        out.push(finding(
            Severity::Critical,
            "rls_disabled",
            &table.name,
            "row-level security is not enabled: every role that can read the table sees every tenant's rows",
            format!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY; ALTER TABLE {name} FORCE ROW LEVEL SECURITY; (or apply TenantPolicy::enable_sql)"),
        ));
    } else if !table.forced {
        out.push(finding(
            Severity::High,
            "rls_not_forced",
            &table.name,
            "row-level security is not forced: the table owner (and any role connected as the owner) bypasses the policies",
            format!("ALTER TABLE {name} FORCE ROW LEVEL SECURITY;"),
        ));
    }
    if !table.not_null {
        out.push(finding(
            Severity::High,
            "tenant_column_nullable",
            &table.name,
            format!("{} allows NULL: rows without a tenant belong to no one and escape tenant-scoped exports and deletes", options.tenant_column),
            format!("ALTER TABLE {name} ALTER COLUMN \"{}\" SET NOT NULL;", options.tenant_column),
        ));
    }
    policies(conn, options, table, out).await?;
    unindexed_foreign_keys(conn, table, out).await?;
    keys_and_indexes(conn, options, table, all, out).await
}

/// name, permissive, command, USING, WITH CHECK.
type PolicyRow = (String, bool, String, Option<String>, Option<String>);

/// More than one permissive policy for the same commands.
fn overlapping_permissive(table: &TenantTable, policies: &[PolicyRow], out: &mut Vec<Finding>) {
    let permissive: Vec<&PolicyRow> = policies.iter().filter(|p| p.1).collect();
    for (i, a) in permissive.iter().enumerate() {
        if let Some(b) = permissive[i + 1..]
            .iter()
            .find(|b| commands_overlap(&a.2, &b.2))
        {
            out.push(finding(
                Severity::Medium,
                "multiple_permissive_policies",
                &table.name,
                format!("permissive policies {} and {} apply to the same commands: PostgreSQL ORs them, so the table is only as tight as the loosest one, and every query evaluates both", a.0, b.0),
                "keep one permissive tenant policy; make other rules AS RESTRICTIVE",
            ));
            break;
        }
    }
}

async fn policies(
    conn: &mut PgConnection,
    options: &AuditOptions,
    table: &TenantTable,
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    let policies: Vec<PolicyRow> = sqlx::query_as(
        "SELECT polname::text, polpermissive, polcmd::text,
                pg_get_expr(polqual, polrelid), pg_get_expr(polwithcheck, polrelid)
         FROM pg_policy WHERE polrelid = $1::int8::oid ORDER BY polname",
    )
    .bind(table.oid)
    .fetch_all(&mut *conn)
    .await?;
    if table.rls && policies.is_empty() {
        out.push(finding(
            Severity::High,
            "no_policy",
            &table.name,
            "row-level security is on but there is no policy: every query returns nothing, and the usual \"fix\" is to switch RLS off",
            "create the tenant policy (TenantPolicy::enable_sql)",
        ));
    }
    overlapping_permissive(table, &policies, out);
    for (policy, permissive, cmd, using, check) in &policies {
        let object = format!("policy {policy} on {}", table.name);
        if *permissive {
            if let Some(using) = using {
                if fails_open(using, options) {
                    out.push(finding(
                        Severity::Critical,
                        "policy_fail_open",
                        &object,
                        format!("USING ({using}) lets every row through when no tenant is set (a coalesce with the tenant column, or the setting IS NULL OR ...): a connection without a tenant sees every tenant's rows"),
                        format!("USING ({} = {}): no tenant, no rows", options.tenant_column, options.setting.policy_expr()),
                    ));
                } else if !is_tenant_scoped(using, options) {
                    out.push(finding(
                        Severity::Critical,
                        "policy_not_tenant_scoped",
                        &object,
                        format!("permissive policy USING ({using}) does not compare {} with the tenant setting; permissive policies are ORed, so it opens rows of every tenant", options.tenant_column),
                        "drop it, or make it AS RESTRICTIVE, or restrict it to the current tenant",
                    ));
                } else if contains_word(&using.to_ascii_lowercase(), "or") {
                    out.push(finding(
                        Severity::High,
                        "policy_or_widens",
                        &object,
                        format!("USING ({using}) has an OR: rows matching the other branch are visible to every tenant"),
                        "keep the tenant condition alone in the policy; express other rules as separate RESTRICTIVE policies",
                    ));
                }
            }
            let writes = matches!(cmd.as_str(), "a" | "w" | "*");
            let effective_check = check
                .as_ref()
                .or(if cmd == "a" { None } else { using.as_ref() });
            if writes && !effective_check.is_some_and(|c| is_tenant_scoped(c, options)) {
                out.push(finding(
                    Severity::High,
                    "write_not_checked",
                    &object,
                    format!(
                        "writes are checked with {}: a tenant can insert or move rows into another tenant",
                        effective_check.map_or("nothing".to_owned(), |c| format!("WITH CHECK ({c})"))
                    ),
                    format!("WITH CHECK ({} = {})", options.tenant_column, options.setting.policy_expr()),
                ));
            }
        }
        let expressions: Vec<&String> = using.iter().chain(check.iter()).collect();
        if expressions.iter().any(|e| setting_unset_unsafe(e)) {
            out.push(finding(
                Severity::Medium,
                "setting_unset_unsafe",
                &object,
                "the policy reads current_setting without missing_ok (true) or without nullif(.., ''): with no tenant set, queries fail with an error instead of returning no rows",
                format!("use {}", options.setting.policy_expr()),
            ));
        }
        if expressions.iter().any(|e| per_row_setting(e)) {
            out.push(finding(
                Severity::Low,
                "policy_per_row_setting",
                &object,
                "current_setting is not wrapped in (SELECT ...): PostgreSQL may evaluate it for every row instead of once per statement",
                format!("use {}", options.setting.policy_expr()),
            ));
        }
    }
    Ok(())
}

/// Whether two policies' commands (`pg_policy.polcmd`: `*` for all) meet.
fn commands_overlap(a: &str, b: &str) -> bool {
    a == "*" || b == "*" || a == b
}

/// Whether a policy expression lets rows through when no tenant is set:
/// the setting inside a `coalesce` whose fallback is the tenant column
/// (`tenant_id = coalesce(setting, tenant_id)`), or `... IS NULL` combined with `OR` and
/// the rest.
fn fails_open(expr: &str, options: &AuditOptions) -> bool {
    let expr = without_literals(&expr.to_ascii_lowercase());
    let coalesce_fallback = expr.match_indices("coalesce(").any(|(i, _)| {
        let args = balanced(&expr[i + "coalesce".len()..]);
        args.contains("current_setting(") && contains_word(args, &options.tenant_column)
    });
    let setting_is_null = expr
        .match_indices(" is null")
        .any(|(i, _)| enclosing_group(&expr[..i]).contains("current_setting("));
    coalesce_fallback || (setting_is_null && contains_word(&expr, "or"))
}

/// The text from the last unmatched `(` before the end of `s` to its end:
/// the group an operator at the end of `s` belongs to.
fn enclosing_group(s: &str) -> &str {
    let mut depth = 0_usize;
    for (i, c) in s.char_indices().rev() {
        match c {
            ')' => depth += 1,
            '(' if depth == 0 => return &s[i..],
            '(' => depth -= 1,
            _ => {}
        }
    }
    s
}

/// The parenthesised text at the start of `s` (which starts with `(`),
/// up to its matching `)`; all of `s` if it does not close.
fn balanced(s: &str) -> &str {
    let mut depth = 0_usize;
    for (i, c) in s.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth = depth.saturating_sub(1);
                if depth == 0 {
                    return &s[..=i];
                }
            }
            _ => {}
        }
    }
    s
}

/// `current_setting('x')` without `missing_ok`, or without `nullif`.
fn setting_unset_unsafe(expr: &str) -> bool {
    let expr = expr.to_ascii_lowercase();
    expr.match_indices("current_setting(").any(|(i, _)| {
        let call = &expr[i..];
        let args_end = call.find(')').unwrap_or(call.len());
        let missing_ok = call[..args_end].contains("true");
        let before = &expr[..i];
        let nullif = before.trim_end().ends_with("nullif(");
        !(missing_ok && nullif)
    })
}

/// `current_setting` outside a sub-select.
fn per_row_setting(expr: &str) -> bool {
    let expr = expr.to_ascii_lowercase();
    expr.contains("current_setting(") && !expr.contains("select")
}

/// Foreign keys of `table` whose columns no index leads with.
async fn unindexed_foreign_keys(
    conn: &mut PgConnection,
    table: &TenantTable,
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    let unindexed: Vec<String> = sqlx::query_scalar(
        "SELECT c.conname::text FROM pg_constraint c
         WHERE c.conrelid = $1::int8::oid AND c.contype = 'f'
           AND NOT EXISTS (
             SELECT 1 FROM pg_index i
             WHERE i.indrelid = c.conrelid
               AND (SELECT array_agg(k) FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS u(k, n)
                    WHERE n <= cardinality(c.conkey)) @> c.conkey
               AND cardinality(i.indkey::int2[]) >= cardinality(c.conkey))
         ORDER BY 1",
    )
    .bind(table.oid)
    .fetch_all(&mut *conn)
    .await?;
    for fk in unindexed {
        out.push(finding(
            Severity::Low,
            "fk_without_index",
            format!("{fk} on {}", table.name),
            "no index leads with the foreign key's columns: deleting or changing a referenced row scans this table (a tenant's cascade delete becomes slow and locks more)",
            format!("CREATE INDEX ON {} (<the foreign key's columns>);", table.sql_name()),
        ));
    }
    Ok(())
}

async fn keys_and_indexes(
    conn: &mut PgConnection,
    options: &AuditOptions,
    table: &TenantTable,
    all: &[TenantTable],
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    let column = &options.tenant_column;
    let leading: bool = sqlx::query_scalar(
        "SELECT EXISTS (SELECT 1 FROM pg_index i WHERE i.indrelid = $1::int8::oid AND i.indkey[0] = $2)",
    )
    .bind(table.oid)
    .bind(table.attnum)
    .fetch_one(&mut *conn)
    .await?;
    if !leading {
        out.push(finding(
            Severity::Low,
            "no_tenant_index",
            &table.name,
            format!("no index leads with {column}: every policy check scans the table"),
            format!("CREATE INDEX ON {} (\"{column}\");", table.sql_name()),
        ));
    }
    let unique: Vec<String> = sqlx::query_scalar(
        "SELECT ic.relname::text FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid
         WHERE i.indrelid = $1::int8::oid AND i.indisunique AND NOT ($2 = ANY (i.indkey::int2[]))
         ORDER BY 1",
    )
    .bind(table.oid)
    .bind(table.attnum)
    .fetch_all(&mut *conn)
    .await?;
    for index in unique {
        out.push(finding(
            Severity::Medium,
            "unique_without_tenant",
            format!("{index} on {}", table.name),
            format!("unique keys are checked without row-level security: a duplicate-key error tells one tenant that another tenant's row exists; {column} is not part of this key"),
            format!("make the key ({column}, ...)"),
        ));
    }
    let fks: Vec<(String, i64)> = sqlx::query_as(
        "SELECT conname::text, confrelid::int8 FROM pg_constraint
         WHERE conrelid = $1::int8::oid AND contype = 'f' AND NOT ($2 = ANY (conkey)) ORDER BY 1",
    )
    .bind(table.oid)
    .bind(table.attnum)
    .fetch_all(&mut *conn)
    .await?;
    for (fk, target) in fks {
        if let Some(target) = all.iter().find(|t| t.oid == target) {
            out.push(finding(
                Severity::Medium,
                "fk_without_tenant",
                format!("{fk} on {}", table.name),
                format!("the foreign key to {} does not include {column}: a row can reference another tenant's row, and the check reveals it exists", target.name),
                format!("FOREIGN KEY ({column}, ...) REFERENCES {} ({column}, ...)", target.name),
            ));
        }
    }
    let indexes: Vec<(String, String, String)> = sqlx::query_as(
        "SELECT ic.relname::text, am.amname::text,
                coalesce((SELECT string_agg(opc.opcname::text, ',') FROM unnest(i.indclass::oid[]) AS x(oid)
                          JOIN pg_opclass opc ON opc.oid = x.oid), '')
         FROM pg_index i JOIN pg_class ic ON ic.oid = i.indexrelid JOIN pg_am am ON am.oid = ic.relam
         WHERE i.indrelid = $1::int8::oid AND i.indkey[0] <> $2 ORDER BY 1",
    )
    .bind(table.oid)
    .bind(table.attnum)
    .fetch_all(&mut *conn)
    .await?;
    for (index, method, opclasses) in indexes {
        if !matches!(method.as_str(), "btree" | "hash") || opclasses.contains("pattern_ops") {
            out.push(finding(
                Severity::Low,
                "index_unusable_under_rls",
                format!("{index} on {}", table.name),
                format!("a {method} index ({opclasses}): its operators (LIKE, jsonb @>, full text, ...) are not leakproof, so under row-level security PostgreSQL cannot use it and filters the tenant's rows one by one"),
                format!("lead the index with {column} where possible, and expect these queries to scan the tenant's rows"),
            ));
        }
    }
    Ok(())
}

pub(crate) async fn app_role(
    conn: &mut PgConnection,
    role: &str,
    tables: &[TenantTable],
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
            "app_role_missing",
            &object,
            "the application role does not exist, so it could not be checked",
            "pass the role the application connects as",
        ));
        return Ok(());
    };
    if superuser {
        out.push(finding(
            Severity::Critical,
            "app_role_superuser",
            &object,
            "superusers bypass row-level security, even FORCEd",
            format!("ALTER ROLE \"{role}\" NOSUPERUSER;"),
        ));
    }
    if bypass {
        out.push(finding(
            Severity::Critical,
            "app_role_bypassrls",
            &object,
            "BYPASSRLS skips every policy",
            format!("ALTER ROLE \"{role}\" NOBYPASSRLS;"),
        ));
    }
    if row_security_off {
        out.push(finding(
            Severity::Medium,
            "app_role_row_security_off",
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
            "app_role_temporary",
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
            "app_role_owns_table",
            &object,
            format!("the role owns {table} (or is a member of its owner): owners can disable row-level security and bypass it unless FORCEd"),
            "run migrations as a separate owner role; connect the application as a plain role with only SELECT/INSERT/UPDATE/DELETE",
        ));
    }
    Ok(())
}

pub(crate) async fn views(
    conn: &mut PgConnection,
    tables: &[TenantTable],
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    let oids: Vec<i64> = tables.iter().map(|t| t.oid).collect();
    let views: Vec<(String, String, String, i64)> = sqlx::query_as(
        "SELECT DISTINCT n.nspname || '.' || v.relname, v.relkind::text,
                coalesce(array_to_string(v.reloptions, ','), ''), d.refobjid::int8
         FROM pg_rewrite r
         JOIN pg_class v ON v.oid = r.ev_class
         JOIN pg_namespace n ON n.oid = v.relnamespace
         JOIN pg_depend d ON d.classid = 'pg_rewrite'::regclass AND d.objid = r.oid
                          AND d.refclassid = 'pg_class'::regclass
         WHERE v.relkind IN ('v', 'm') AND d.refobjid::int8 = ANY ($1) AND d.refobjid <> v.oid
         ORDER BY 1",
    )
    .bind(&oids)
    .fetch_all(&mut *conn)
    .await?;
    for (view, kind, reloptions, base) in views {
        let base = tables
            .iter()
            .find(|t| t.oid == base)
            .map_or("a tenant table", |t| t.name.as_str());
        if kind == "m" {
            out.push(finding(
                Severity::Critical,
                "materialized_view",
                &view,
                format!("a materialized view over {base}: materialized views have no row-level security, so it holds every tenant's rows for anyone who can read it"),
                "drop it, or revoke it from the application role and add a tenant column plus a view with security_invoker on top",
            ));
        } else if !security_invoker(&reloptions) {
            out.push(finding(
                Severity::High,
                "view_bypasses_rls",
                &view,
                format!("a view over {base} without security_invoker runs with its owner's rights: if the owner bypasses RLS, so does everyone using the view"),
                format!("ALTER VIEW {view} SET (security_invoker = true);"),
            ));
        }
    }
    Ok(())
}

fn security_invoker(reloptions: &str) -> bool {
    reloptions.split(',').any(|o| {
        let o = o.to_ascii_lowercase();
        matches!(
            o.as_str(),
            "security_invoker=true"
                | "security_invoker=on"
                | "security_invoker=1"
                | "security_invoker=yes"
        )
    })
}

pub(crate) async fn tenant_schemas(
    conn: &mut PgConnection,
    options: &AuditOptions,
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    if options.tenant_schemas.is_empty() {
        return Ok(());
    }
    let tables: Vec<(String, String)> = sqlx::query_as(
        "SELECT n.nspname || '.' || c.relname, c.relname::text FROM pg_class c
         JOIN pg_namespace n ON n.oid = c.relnamespace
         WHERE c.relkind IN ('r', 'p') AND n.nspname = ANY ($1)
           AND NOT EXISTS (SELECT 1 FROM pg_attribute a WHERE a.attrelid = c.oid AND a.attname = $2 AND NOT a.attisdropped)
         ORDER BY 1",
    )
    .bind(&options.tenant_schemas)
    .bind(&options.tenant_column)
    .fetch_all(&mut *conn)
    .await?;
    for (qualified, table) in tables {
        if options.is_shared(&qualified, &table) {
            continue;
        }
        out.push(finding(
            Severity::High,
            "table_without_tenant_column",
            &qualified,
            format!("a table in a tenant-scoped schema without {}: its rows are shared by every tenant", options.tenant_column),
            "add the tenant column and the tenant policy (TenantPolicy::retrofit_sql), or declare the table shared",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expression_heuristics() {
        let good = "(tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS \"nullif\"))";
        let options = AuditOptions::default();
        assert!(is_tenant_scoped(good, &options));
        assert!(!setting_unset_unsafe(good));
        assert!(!per_row_setting(good));
        let bare = "(tenant_id = (current_setting('app.tenant_id'::text))::uuid)";
        assert!(setting_unset_unsafe(bare));
        assert!(per_row_setting(bare));
        assert!(!is_tenant_scoped("true", &options));
        assert!(!is_tenant_scoped(
            "(owner_id = (current_setting('app.tenant_id'::text))::uuid)",
            &options
        ));
        assert!(contains_word("a or b", "or"));
        assert!(!contains_word("orders", "or"));
        let coalesce = "(tenant_id = COALESCE(( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS \"nullif\"), tenant_id))";
        assert!(fails_open(coalesce, &options));
        let null_or = "((( SELECT NULLIF(current_setting('app.tenant_id'::text, true), ''::text) AS \"nullif\") IS NULL) OR (tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS \"nullif\")))";
        assert!(fails_open(null_or, &options));
        assert!(!fails_open(good, &options));
        let fallback_constant = "(tenant_id = COALESCE((NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid, '00000000-0000-0000-0000-000000000000'::uuid))";
        assert!(!fails_open(fallback_constant, &options));
        let other_null = "((tenant_id = ( SELECT (NULLIF(current_setting('app.tenant_id'::text, true), ''::text))::uuid AS \"nullif\")) AND ((deleted_at IS NULL) OR archived))";
        assert!(!fails_open(other_null, &options));
        assert!(security_invoker("security_invoker=true"));
        assert!(!security_invoker("security_barrier=true"));
    }
}

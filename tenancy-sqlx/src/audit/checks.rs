//! The catalog queries behind each check.

use sqlx::PgConnection;
use tenancy_core::IdSqlType;

use super::expr::{
    commands_overlap, contains_word, fails_open, is_sealed_scoped, per_row_setting, pins_tenant,
    setting_unset_unsafe,
};
use super::{AuditOptions, Finding, FindingCode, Severity};

/// A table that has the tenant column.
#[derive(Debug)]
pub(crate) struct AuditedTable {
    pub(crate) oid: i64,
    /// `schema.table`.
    pub(crate) name: String,
    pub(crate) table: String,
    rls: bool,
    forced: bool,
    attnum: i16,
    not_null: bool,
    /// The tenant column's type, as the catalog names it.
    column_type: String,
}

impl AuditedTable {
    fn sql_name(&self) -> String {
        self.name
            .split('.')
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(".")
    }

    /// The tenant id type of the column (`uuid` if it is none a tenant id
    /// can have), for the policy the fixes suggest.
    fn id_type(&self) -> IdSqlType {
        IdSqlType::from_catalog_name(&self.column_type).unwrap_or_default()
    }
}

pub(super) fn finding(
    severity: Severity,
    code: FindingCode,
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
) -> Result<Vec<AuditedTable>, sqlx::Error> {
    /// oid, schema, table, RLS on, forced, tenant column: number, NOT NULL, type.
    type TableRow = (i64, String, String, bool, bool, i16, bool, String);
    let rows: Vec<TableRow> = sqlx::query_as(
        "SELECT c.oid::int8, n.nspname::text, c.relname::text, c.relrowsecurity, c.relforcerowsecurity,
                a.attnum, a.attnotnull, format_type(a.atttypid, a.atttypmod)
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
            |(oid, schema, table, rls, forced, attnum, not_null, column_type)| AuditedTable {
                oid,
                name: format!("{schema}.{table}"),
                table,
                rls,
                forced,
                attnum,
                not_null,
                column_type,
            },
        )
        .collect())
}

pub(crate) async fn table(
    conn: &mut PgConnection,
    options: &AuditOptions,
    table: &AuditedTable,
    all: &[AuditedTable],
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    let name = table.sql_name();
    if !table.rls {
        out.push(finding(
            Severity::Critical,
            FindingCode::RlsDisabled,
            &table.name,
            "row-level security is not enabled: every role that can read the table sees every tenant's rows",
            format!("ALTER TABLE {name} ENABLE ROW LEVEL SECURITY; ALTER TABLE {name} FORCE ROW LEVEL SECURITY; (or apply TenantPolicy::enable_sql)"),
        ));
    } else if !table.forced {
        out.push(finding(
            Severity::High,
            FindingCode::RlsNotForced,
            &table.name,
            "row-level security is not forced: the table owner (and any role connected as the owner) bypasses the policies",
            format!("ALTER TABLE {name} FORCE ROW LEVEL SECURITY;"),
        ));
    }
    if !table.not_null {
        out.push(finding(
            Severity::High,
            FindingCode::TenantColumnNullable,
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

/// Whether a policy is a cross-tenant admin policy (its expressions call
/// the admin scope function); `admin.rs` checks those.
fn is_admin(policy: &PolicyRow) -> bool {
    policy
        .3
        .iter()
        .chain(policy.4.iter())
        .any(|expr| super::admin::is_admin_policy(expr))
}

/// More than one permissive policy for the same commands.
/// The sealed tier's own permissive policy is not counted: it pins rows to
/// the login role's tenant, and no session matches both it and another.
fn overlapping_permissive(
    options: &AuditOptions,
    table: &AuditedTable,
    policies: &[PolicyRow],
    out: &mut Vec<Finding>,
) {
    let permissive: Vec<&PolicyRow> = policies
        .iter()
        .filter(|p| {
            p.1 && !p.3.as_ref().is_some_and(|u| is_sealed_scoped(u, options)) && !is_admin(p)
        })
        .collect();
    for (i, a) in permissive.iter().enumerate() {
        if let Some(b) = permissive[i + 1..]
            .iter()
            .find(|b| commands_overlap(&a.2, &b.2))
        {
            out.push(finding(
                Severity::Medium,
                FindingCode::MultiplePermissivePolicies,
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
    table: &AuditedTable,
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
            FindingCode::NoPolicy,
            &table.name,
            "row-level security is on but there is no policy: every query returns nothing, and the usual \"fix\" is to switch RLS off",
            "create the tenant policy (TenantPolicy::enable_sql)",
        ));
    }
    overlapping_permissive(options, table, &policies, out);
    for row in &policies {
        let (policy, permissive, cmd, using, check) = row;
        let object = format!("policy {policy} on {}", table.name);
        if is_admin(row) {
            // Checked with the admin access (`admin.rs`): its own role, trailed.
            continue;
        }
        if *permissive {
            if let Some(using) = using {
                if fails_open(using, options) {
                    out.push(finding(
                        Severity::Critical,
                        FindingCode::PolicyFailOpen,
                        &object,
                        format!("USING ({using}) lets every row through when no tenant is set (a coalesce with the tenant column, or the setting IS NULL OR ...): a connection without a tenant sees every tenant's rows"),
                        format!("USING ({} = {}): no tenant, no rows", options.tenant_column, options.setting.policy_expr(table.id_type())),
                    ));
                } else if !pins_tenant(using, options) {
                    out.push(finding(
                        Severity::Critical,
                        FindingCode::PolicyNotTenantScoped,
                        &object,
                        format!("permissive policy USING ({using}) does not compare {} with the tenant setting; permissive policies are ORed, so it opens rows of every tenant", options.tenant_column),
                        "drop it, or make it AS RESTRICTIVE, or restrict it to the current tenant",
                    ));
                } else if contains_word(&using.to_ascii_lowercase(), "or") {
                    out.push(finding(
                        Severity::High,
                        FindingCode::PolicyOrWidens,
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
            if writes && !effective_check.is_some_and(|c| pins_tenant(c, options)) {
                out.push(finding(
                    Severity::High,
                    FindingCode::WriteNotChecked,
                    &object,
                    format!(
                        "writes are checked with {}: a tenant can insert or move rows into another tenant",
                        effective_check.map_or("nothing".to_owned(), |c| format!("WITH CHECK ({c})"))
                    ),
                    format!("WITH CHECK ({} = {})", options.tenant_column, options.setting.policy_expr(table.id_type())),
                ));
            }
        }
        let expressions: Vec<&String> = using.iter().chain(check.iter()).collect();
        if expressions.iter().any(|e| setting_unset_unsafe(e)) {
            out.push(finding(
                Severity::Medium,
                FindingCode::SettingUnsetUnsafe,
                &object,
                "the policy reads current_setting without missing_ok (true) or without nullif(.., ''): with no tenant set, queries fail with an error instead of returning no rows",
                format!("use {}", options.setting.policy_expr(table.id_type())),
            ));
        }
        if expressions.iter().any(|e| per_row_setting(e)) {
            out.push(finding(
                Severity::Low,
                FindingCode::PolicyPerRowSetting,
                &object,
                "current_setting is not wrapped in (SELECT ...): PostgreSQL may evaluate it for every row instead of once per statement",
                format!("use {}", options.setting.policy_expr(table.id_type())),
            ));
        }
    }
    Ok(())
}

/// Foreign keys of `table` whose columns no index leads with.
async fn unindexed_foreign_keys(
    conn: &mut PgConnection,
    table: &AuditedTable,
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
            FindingCode::FkWithoutIndex,
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
    table: &AuditedTable,
    all: &[AuditedTable],
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
            FindingCode::NoTenantIndex,
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
            FindingCode::UniqueWithoutTenant,
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
                FindingCode::FkWithoutTenant,
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
                FindingCode::IndexUnusableUnderRls,
                format!("{index} on {}", table.name),
                format!("a {method} index ({opclasses}): its operators (LIKE, jsonb @>, full text, ...) are not leakproof, so under row-level security PostgreSQL cannot use it and filters the tenant's rows one by one"),
                format!("lead the index with {column} where possible, and expect these queries to scan the tenant's rows"),
            ));
        }
    }
    Ok(())
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
            FindingCode::TableWithoutTenantColumn,
            &qualified,
            format!("a table in a tenant-scoped schema without {}: its rows are shared by every tenant", options.tenant_column),
            "add the tenant column and the tenant policy (TenantPolicy::retrofit_sql), or declare the table shared",
        ));
    }
    Ok(())
}

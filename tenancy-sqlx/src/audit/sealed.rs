//! The sealed tier: every tenant table has its policies, the map of login
//! roles to tenants cannot be written by the roles it governs, and sealed
//! roles carry no attribute or membership that leads elsewhere.

use sqlx::PgConnection;
use tenancy_core::rls::sealed::{
    SEALED_GROUP_ROLE, SEALED_POLICY_NAME, SEALED_ROLES_TABLE, SEALED_WALL_POLICY_NAME,
};

use super::checks::{AuditedTable, finding};
use super::{Finding, FindingCode, Severity};

pub(crate) async fn sealed_tier(
    conn: &mut PgConnection,
    tables: &[AuditedTable],
    out: &mut Vec<Finding>,
) -> Result<(), sqlx::Error> {
    let map: Option<(bool, bool)> = sqlx::query_as(
        "SELECT c.relrowsecurity, c.relforcerowsecurity FROM pg_class c
         WHERE c.oid = to_regclass($1)",
    )
    .bind(SEALED_ROLES_TABLE)
    .fetch_optional(&mut *conn)
    .await?;
    let Some((rls, forced)) = map else {
        return Ok(());
    };
    // Sealed tenants have rows in the tables their group may use; there,
    // both policies must be present.
    for table in tables {
        let (reachable, own, wall): (bool, bool, bool) = sqlx::query_as(
            "SELECT CASE WHEN EXISTS (SELECT 1 FROM pg_roles WHERE rolname = $4)
                    THEN has_table_privilege($4, $1::int8::oid, 'SELECT, INSERT, UPDATE, DELETE')
                    ELSE false END,
                    coalesce(bool_or(polname = $2 AND polpermissive), false),
                    coalesce(bool_or(polname = $3 AND NOT polpermissive), false)
             FROM pg_policy WHERE polrelid = $1::int8::oid",
        )
        .bind(table.oid)
        .bind(SEALED_POLICY_NAME)
        .bind(SEALED_WALL_POLICY_NAME)
        .bind(SEALED_GROUP_ROLE)
        .fetch_one(&mut *conn)
        .await?;
        if reachable && !(own && wall) {
            out.push(finding(
                Severity::Critical,
                FindingCode::SealedPolicyMissing,
                &table.name,
                "sealed tenants may use this table (their group has privileges on it) but it lacks the sealed policies: the shared application role reaches sealed tenants' rows here through the tenant setting",
                format!("apply TenantPolicy::new(\"{}\")?.sealed_sql()", table.table),
            ));
        }
    }
    let writers: Vec<String> = sqlx::query_scalar(
        "SELECT polname::text FROM pg_policy
         WHERE polrelid = to_regclass($1) AND polcmd <> 'r' AND 0::oid = ANY (polroles)
         ORDER BY 1",
    )
    .bind(SEALED_ROLES_TABLE)
    .fetch_all(&mut *conn)
    .await?;
    if !rls || !forced || !writers.is_empty() {
        out.push(finding(
            Severity::Critical,
            FindingCode::SealedMapWritable,
            SEALED_ROLES_TABLE,
            format!(
                "the map of sealed roles to tenants is not protected (row-level security on: {rls}, forced: {forced}, write policies for everyone: {writers:?}): a role that can write it can map its own login to another tenant"
            ),
            "apply SealedSetup::table_sql(), which forces row-level security on the map and lets only the manager role write it",
        ));
    }
    // Sealed login roles and the group: no attribute that bypasses RLS or
    // makes roles, no membership besides the group, no member besides the
    // group's login roles.
    let unsafe_roles: Vec<(String, String)> = sqlx::query_as(
        "WITH grp AS (SELECT oid FROM pg_roles WHERE rolname = $1),
              sealed AS (SELECT r.* FROM pg_roles r
                         WHERE r.oid = (SELECT oid FROM grp)
                            OR r.oid IN (SELECT member FROM pg_auth_members WHERE roleid = (SELECT oid FROM grp)))
         SELECT s.rolname::text, 'has ' || concat_ws(', ',
                    CASE WHEN s.rolsuper THEN 'SUPERUSER' END,
                    CASE WHEN s.rolbypassrls THEN 'BYPASSRLS' END,
                    CASE WHEN s.rolcreaterole THEN 'CREATEROLE' END,
                    CASE WHEN s.rolreplication THEN 'REPLICATION' END)
         FROM sealed s WHERE s.rolsuper OR s.rolbypassrls OR s.rolcreaterole OR s.rolreplication
         UNION ALL
         SELECT s.rolname::text, 'is a member of ' || r.rolname
         FROM sealed s JOIN pg_auth_members m ON m.member = s.oid JOIN pg_roles r ON r.oid = m.roleid
         WHERE r.oid <> (SELECT oid FROM grp)
         UNION ALL
         SELECT s.rolname::text, 'has member ' || r.rolname
         FROM sealed s JOIN pg_auth_members m ON m.roleid = s.oid JOIN pg_roles r ON r.oid = m.member
         WHERE s.oid <> (SELECT oid FROM grp) OR r.rolcanlogin IS FALSE
         ORDER BY 1, 2",
    )
    .bind(SEALED_GROUP_ROLE)
    .fetch_all(&mut *conn)
    .await?;
    for (role, what) in unsafe_roles {
        out.push(finding(
            Severity::Critical,
            FindingCode::SealedRoleUnsafe,
            format!("role {role}"),
            format!("a sealed role {what}: SQL injected into a sealed tenant's transaction, or into the member's, reaches beyond that tenant"),
            format!("remove it (ALTER ROLE / REVOKE); a sealed login role is LOGIN, member of {SEALED_GROUP_ROLE} only, with no members"),
        ));
    }
    Ok(())
}

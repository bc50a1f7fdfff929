//! The audit against fixture databases: the generated setup audits clean,
//! and each misconfiguration, seeded alone, is reported as exactly its finding.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use sqlx::postgres::PgPoolOptions;
use tenancy_core::rls::TenantPolicy;
use tenancy_sqlx::audit::{AuditOptions, Severity, audit};
use tenancy_testing::{APP_ROLE, TestDatabase};

fn baseline() -> String {
    let orders = TenantPolicy::new("orders").unwrap();
    let lines = TenantPolicy::new("order_lines").unwrap();
    format!(
        "CREATE TABLE orders (id uuid NOT NULL DEFAULT gen_random_uuid(), {}, item text NOT NULL,
                              PRIMARY KEY (tenant_id, id));
         {}
         CREATE TABLE order_lines (id uuid NOT NULL DEFAULT gen_random_uuid(), {}, order_id uuid NOT NULL,
                                   PRIMARY KEY (tenant_id, id),
                                   FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id));
         CREATE INDEX ON order_lines (tenant_id, order_id);
         {}",
        orders.column_sql(),
        orders.enable_sql(),
        lines.column_sql(),
        lines.enable_sql()
    )
}

/// A fresh database with the correct baseline, then `admin_sql` applied.
async fn codes_after(admin_sql: &str, options: &AuditOptions) -> Vec<&'static str> {
    let db = tenancy_testing::test_database();
    db.owner_sql(&baseline()).unwrap();
    if !admin_sql.is_empty() {
        db.admin_sql(admin_sql).unwrap();
    }
    run(&db, options).await.codes()
}

async fn run(db: &TestDatabase, options: &AuditOptions) -> tenancy_sqlx::audit::Report {
    let pool = PgPoolOptions::new()
        .max_connections(1)
        .connect(db.admin_url())
        .await
        .unwrap();
    let report = audit(&pool, options).await.unwrap();
    pool.close().await;
    report
}

fn app() -> AuditOptions {
    AuditOptions::default().app_role(APP_ROLE)
}

fn unique_role() -> String {
    format!("audit_{}", uuid::Uuid::new_v4().simple())
}

const SCOPED: &str = "(SELECT nullif(current_setting('app.tenant_id', true), '')::uuid)";

#[tokio::test]
async fn the_generated_setup_audits_clean() {
    let db = tenancy_testing::test_database();
    db.owner_sql(&baseline()).unwrap();
    let report = run(&db, &app()).await;
    assert_eq!(report.findings, vec![], "{}", report.to_text());
    assert_eq!(
        report.tenant_tables,
        vec!["public.order_lines", "public.orders"]
    );
}

#[tokio::test]
async fn table_level_misconfigurations_are_each_found() {
    let cases: Vec<(String, Vec<&str>)> = vec![
        ("ALTER TABLE orders DISABLE ROW LEVEL SECURITY".into(), vec!["rls_disabled"]),
        ("ALTER TABLE orders NO FORCE ROW LEVEL SECURITY".into(), vec!["rls_not_forced"]),
        ("DROP POLICY tenant_isolation ON orders".into(), vec!["no_policy"]),
        (
            "CREATE POLICY peek ON orders FOR SELECT USING (true)".into(),
            vec!["policy_not_tenant_scoped", "multiple_permissive_policies"],
        ),
        (
            format!("CREATE POLICY again ON orders FOR SELECT USING (tenant_id = {SCOPED})"),
            vec!["multiple_permissive_policies"],
        ),
        (
            format!(
                "DROP POLICY tenant_isolation ON orders;
                 CREATE POLICY tenant_isolation ON orders USING (tenant_id = coalesce({SCOPED}, tenant_id))
                   WITH CHECK (tenant_id = {SCOPED})"
            ),
            vec!["policy_fail_open"],
        ),
        (
            format!(
                "DROP POLICY tenant_isolation ON orders;
                 CREATE POLICY tenant_isolation ON orders USING ({SCOPED} IS NULL OR tenant_id = {SCOPED})
                   WITH CHECK (tenant_id = {SCOPED})"
            ),
            vec!["policy_fail_open"],
        ),
        (
            "DROP INDEX order_lines_tenant_id_order_id_idx".into(),
            vec!["fk_without_index"],
        ),
        (
            format!(
                "DROP POLICY tenant_isolation ON orders;
                 CREATE POLICY tenant_isolation ON orders USING (tenant_id = {SCOPED} OR item = 'demo')
                   WITH CHECK (tenant_id = {SCOPED})"
            ),
            vec!["policy_or_widens"],
        ),
        (
            "CREATE POLICY any_insert ON orders FOR INSERT WITH CHECK (true)".into(),
            vec!["write_not_checked", "multiple_permissive_policies"],
        ),
        (
            "DROP POLICY tenant_isolation ON orders;
             CREATE POLICY tenant_isolation ON orders USING (tenant_id = (SELECT current_setting('app.tenant_id')::uuid))"
                .into(),
            vec!["setting_unset_unsafe"],
        ),
        (
            "DROP POLICY tenant_isolation ON orders;
             CREATE POLICY tenant_isolation ON orders USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)"
                .into(),
            vec!["policy_per_row_setting"],
        ),
        (
            format!(
                "CREATE TABLE notes ({}, body text); {} ALTER TABLE notes ALTER COLUMN tenant_id DROP NOT NULL;",
                TenantPolicy::new("notes").unwrap().column_sql(),
                TenantPolicy::new("notes").unwrap().enable_sql()
            ),
            vec!["tenant_column_nullable"],
        ),
        (
            format!(
                "CREATE TABLE notes ({}, body text); {} DROP INDEX notes_tenant_id_idx;",
                TenantPolicy::new("notes").unwrap().column_sql(),
                TenantPolicy::new("notes").unwrap().enable_sql()
            ),
            vec!["no_tenant_index"],
        ),
        ("ALTER TABLE orders ADD CONSTRAINT orders_item_key UNIQUE (item)".into(), vec!["unique_without_tenant"]),
        (
            "ALTER TABLE order_lines ADD COLUMN other_tenant uuid;
             ALTER TABLE order_lines ADD CONSTRAINT lines_any_order
               FOREIGN KEY (order_id, other_tenant) REFERENCES orders (id, tenant_id);
             CREATE INDEX ON order_lines (order_id, other_tenant)"
                .into(),
            vec!["fk_without_tenant"],
        ),
        ("CREATE INDEX orders_item_prefix ON orders (item text_pattern_ops)".into(), vec!["index_unusable_under_rls"]),
    ];
    for (sql, want) in cases {
        assert_eq!(codes_after(&sql, &app()).await, want, "after: {sql}");
    }
}

#[tokio::test]
async fn dangerous_application_roles_are_found() {
    let cases = [
        (
            "CREATE ROLE {r} LOGIN SUPERUSER",
            vec!["app_role_superuser"],
        ),
        (
            "CREATE ROLE {r} LOGIN BYPASSRLS",
            vec!["app_role_bypassrls"],
        ),
        (
            "CREATE ROLE {r} LOGIN; ALTER TABLE orders OWNER TO {r}",
            vec!["app_role_owns_table"],
        ),
        (
            // The owner owns the database too, so it may create temporary tables.
            "CREATE ROLE {r} LOGIN; GRANT tenancy_owner TO {r}",
            vec![
                "app_role_owns_table",
                "app_role_owns_table",
                "app_role_temporary",
            ],
        ),
        (
            "CREATE ROLE {r} LOGIN; ALTER ROLE {r} SET row_security = off",
            vec!["app_role_row_security_off"],
        ),
        (
            "CREATE ROLE {r} LOGIN; DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO {r}', current_database()); END $$",
            vec!["app_role_temporary"],
        ),
        (
            "CREATE ROLE {r} LOGIN; DO $$ BEGIN EXECUTE format('GRANT TEMPORARY ON DATABASE %I TO PUBLIC', current_database()); END $$",
            vec!["app_role_temporary"],
        ),
        (
            "CREATE ROLE {r} LOGIN; CREATE ROLE {r}_tenant; GRANT {r}_tenant TO {r}",
            vec!["app_role_member_of_roles"],
        ),
        ("SELECT 1", vec!["app_role_missing"]),
    ];
    for (template, want) in cases {
        let role = unique_role();
        let sql = template.replace("{r}", &role);
        let options = AuditOptions::default().app_role(&role);
        assert_eq!(codes_after(&sql, &options).await, want, "after: {sql}");
    }
}

#[tokio::test]
async fn the_fix_for_temporary_tables_clears_the_finding() {
    let db = tenancy_testing::test_database();
    db.owner_sql(&baseline()).unwrap();
    db.admin_sql(&format!(
        "GRANT TEMPORARY ON DATABASE {} TO PUBLIC",
        db.name()
    ))
    .unwrap();
    let report = run(&db, &app()).await;
    let finding = report
        .findings
        .iter()
        .find(|f| f.code == "app_role_temporary")
        .expect("TEMPORARY through PUBLIC is reported");
    db.admin_sql(&finding.fix).unwrap();
    assert!(run(&db, &app()).await.codes().is_empty());
}

#[tokio::test]
async fn views_and_functions_that_bypass_rls_are_found() {
    let cases = [
        (
            "CREATE VIEW order_items AS SELECT id, item FROM orders",
            vec!["view_bypasses_rls"],
        ),
        (
            "CREATE VIEW order_items WITH (security_invoker = true) AS SELECT id, item FROM orders",
            vec![],
        ),
        (
            "CREATE MATERIALIZED VIEW order_counts AS SELECT tenant_id, count(*) FROM orders GROUP BY 1",
            vec!["materialized_view"],
        ),
        (
            "CREATE FUNCTION all_orders() RETURNS bigint LANGUAGE sql SECURITY DEFINER SET search_path = public
               AS 'SELECT count(*) FROM orders';
             REVOKE EXECUTE ON FUNCTION all_orders() FROM PUBLIC",
            vec!["security_definer_reads_tenant_table"],
        ),
        (
            "CREATE FUNCTION stamp() RETURNS timestamptz LANGUAGE sql SECURITY DEFINER SET search_path = pg_catalog
               AS 'SELECT now()'",
            vec!["security_definer_executable"],
        ),
        (
            "CREATE FUNCTION stamp() RETURNS timestamptz LANGUAGE sql SECURITY DEFINER AS 'SELECT now()';
             REVOKE EXECUTE ON FUNCTION stamp() FROM PUBLIC",
            vec!["security_definer_search_path"],
        ),
        (
            "CREATE FUNCTION my_orders() RETURNS bigint LANGUAGE sql AS 'SELECT count(*) FROM orders'",
            vec![],
        ),
    ];
    for (sql, want) in cases {
        assert_eq!(codes_after(sql, &app()).await, want, "after: {sql}");
    }
}

#[tokio::test]
async fn tables_the_app_role_reaches_without_rls_are_found_unless_shared() {
    let granted = "CREATE TABLE settings (k text); GRANT SELECT ON settings TO tenancy_app";
    assert_eq!(
        codes_after(granted, &app()).await,
        vec!["table_reachable_without_rls"]
    );
    assert_eq!(
        codes_after(granted, &app().shared_table("settings")).await,
        Vec::<&str>::new()
    );
    // Not granted to the application role: nothing to report.
    assert_eq!(
        codes_after("CREATE TABLE settings (k text)", &app()).await,
        Vec::<&str>::new()
    );
}

#[tokio::test]
async fn the_sdks_migration_table_is_not_a_table_without_tenant() {
    let options = app().tenant_schema("public");
    assert_eq!(
        codes_after(
            "CREATE TABLE _tenancy_migrations (version bigint PRIMARY KEY)",
            &options
        )
        .await,
        Vec::<&str>::new()
    );
}

#[tokio::test]
async fn tables_without_tenant_column_in_a_tenant_schema_are_found() {
    let options = app().tenant_schema("public");
    assert_eq!(
        codes_after("CREATE TABLE settings (k text)", &options).await,
        vec!["table_without_tenant_column"]
    );
    let shared = app().tenant_schema("public").shared_table("settings");
    assert_eq!(
        codes_after("CREATE TABLE settings (k text)", &shared).await,
        Vec::<&str>::new()
    );
}

#[tokio::test]
async fn severities_and_output() {
    let db = tenancy_testing::test_database();
    db.owner_sql(&baseline()).unwrap();
    db.admin_sql("ALTER TABLE orders NO FORCE ROW LEVEL SECURITY; CREATE INDEX orders_item_prefix ON orders (item text_pattern_ops)")
        .unwrap();
    let report = run(&db, &app()).await;
    assert_eq!(
        report.codes(),
        vec!["rls_not_forced", "index_unusable_under_rls"],
        "most severe first"
    );
    assert!(report.has_findings_at(Severity::High));
    assert!(!report.has_findings_at(Severity::Critical));
    let text = report.to_text();
    assert!(
        text.contains("HIGH     rls_not_forced on public.orders"),
        "{text}"
    );
    assert!(
        text.contains("fix: ALTER TABLE \"public\".\"orders\" FORCE ROW LEVEL SECURITY;"),
        "{text}"
    );
    let json: serde_json::Value = serde_json::from_str(&report.to_json()).unwrap();
    assert_eq!(json["findings"][0]["severity"], "high");
    assert_eq!(json["findings"][0]["code"], "rls_not_forced");
}

/// The options say what the application's tables look like: a tenant column
/// and a setting of its own, shared tables named with or without their
/// schema. A database built that way audits clean under those options, and
/// not under the defaults.
#[tokio::test]
async fn the_options_describe_the_applications_own_conventions() {
    use tenancy_core::rls::SettingName;
    let setting = SettingName::new("myapp.account").unwrap();
    let ledger = TenantPolicy::new("ledger")
        .unwrap()
        .with_tenant_column("account_id")
        .unwrap()
        .with_setting(setting.clone());
    let db = tenancy_testing::test_database();
    db.owner_sql(&format!(
        "CREATE TABLE ledger (id bigint GENERATED ALWAYS AS IDENTITY, {}, amount int,
             PRIMARY KEY (account_id, id));
         {}
         CREATE TABLE settings (k text);",
        ledger.column_sql(),
        ledger.enable_sql()
    ))
    .unwrap();
    let ours = || {
        app()
            .tenant_column("account_id")
            .setting(setting.clone())
            .tenant_schema("public")
    };
    assert_eq!(
        run(&db, &ours().shared_table("settings")).await.codes(),
        Vec::<&str>::new()
    );
    assert_eq!(
        run(&db, &ours().shared_table("public.settings"))
            .await
            .codes(),
        Vec::<&str>::new()
    );
    // Another table declared shared does not make settings shared.
    assert_eq!(
        run(&db, &ours().shared_table("public.other")).await.codes(),
        vec!["table_without_tenant_column"]
    );
    // Under the default column, ledger has no tenant column either.
    let default_column = app().setting(setting.clone()).tenant_schema("public");
    assert!(
        run(&db, &default_column.shared_table("settings"))
            .await
            .codes()
            .contains(&"table_without_tenant_column")
    );
    // Under the default setting, ledger's policy reads a setting the app
    // never sets.
    let default_setting = app().tenant_column("account_id").tenant_schema("public");
    let codes = run(&db, &default_setting.shared_table("settings"))
        .await
        .codes();
    assert_eq!(codes, vec!["policy_not_tenant_scoped", "write_not_checked"]);
}

/// The expression a finding suggests fits the table's id type: applied to a
/// bigint table, it makes the policy pass.
#[tokio::test]
async fn the_suggested_expression_fits_the_tables_id_type() {
    use tenancy_core::IdSqlType;
    let ledger = TenantPolicy::new("ledger")
        .unwrap()
        .with_id_type(IdSqlType::BigInt);
    let db = tenancy_testing::test_database();
    db.owner_sql(&format!(
        "CREATE TABLE ledger (id bigint GENERATED ALWAYS AS IDENTITY, {}, amount int,
             PRIMARY KEY (tenant_id, id));
         {}
         DO $$ DECLARE p record; BEGIN
             FOR p IN SELECT policyname FROM pg_policies WHERE tablename = 'ledger' LOOP
                 EXECUTE format('DROP POLICY %I ON ledger', p.policyname);
             END LOOP;
         END $$;
         CREATE POLICY ledger_bare ON ledger
             USING (tenant_id = current_setting('app.tenant_id')::bigint)
             WITH CHECK (tenant_id = current_setting('app.tenant_id')::bigint);",
        ledger.column_sql(),
        ledger.enable_sql()
    ))
    .unwrap();
    let report = run(&db, &app()).await;
    let Some(finding) = report
        .findings
        .iter()
        .find(|f| f.code == "setting_unset_unsafe")
    else {
        panic!("{:?}", report.codes())
    };
    let expr = finding.fix.strip_prefix("use ").unwrap();
    db.owner_sql(&format!(
        "DROP POLICY ledger_bare ON ledger;
         CREATE POLICY ledger_fixed ON ledger USING (tenant_id = {expr}) WITH CHECK (tenant_id = {expr});"
    ))
    .unwrap();
    assert_eq!(run(&db, &app()).await.codes(), Vec::<&str>::new());
}

/// A foreign key matters only when it points at a tenant table, and the
/// finding names the table it points at.
#[tokio::test]
async fn foreign_keys_are_judged_by_the_table_they_point_at() {
    assert_eq!(
        codes_after(
            "CREATE TABLE plans (id int PRIMARY KEY);
             ALTER TABLE orders ADD plan_id int REFERENCES plans (id);
             CREATE INDEX ON orders (plan_id);",
            &app()
        )
        .await,
        Vec::<&str>::new()
    );
    let db = tenancy_testing::test_database();
    db.owner_sql(&baseline()).unwrap();
    db.admin_sql(
        "ALTER TABLE orders ADD CONSTRAINT orders_id_key UNIQUE (id);
         ALTER TABLE order_lines ADD CONSTRAINT lines_order_fk FOREIGN KEY (order_id) REFERENCES orders (id);",
    )
    .unwrap();
    let report = run(&db, &app()).await;
    let fk: Vec<_> = report
        .findings
        .iter()
        .filter(|f| f.code == "fk_without_tenant")
        .collect();
    assert_eq!(fk.len(), 1, "{:?}", report.codes());
    assert_eq!(fk[0].object, "lines_order_fk on public.order_lines");
    assert!(
        fk[0].message.contains("the foreign key to public.orders "),
        "{}",
        fk[0].message
    );
}

/// The finding on roles the app role can become lists five and counts the
/// rest.
#[tokio::test]
async fn roles_the_app_role_can_become_are_listed_then_counted() {
    let db = tenancy_testing::test_database();
    db.owner_sql(&baseline()).unwrap();
    let role = unique_role();
    let grant = |n: std::ops::RangeInclusive<u32>| {
        use std::fmt::Write as _;
        let mut sql = String::new();
        for i in n {
            let _ = write!(sql, "CREATE ROLE {role}_{i}; GRANT {role}_{i} TO {role};");
        }
        sql
    };
    db.admin_sql(&format!("CREATE ROLE {role} LOGIN; {}", grant(1..=5)))
        .unwrap();
    let options = AuditOptions::default().app_role(&role);
    let message = |report: tenancy_sqlx::audit::Report| {
        report
            .findings
            .into_iter()
            .find(|f| f.code == "app_role_member_of_roles")
            .map(|f| f.message)
            .unwrap_or_default()
    };
    let five: Vec<String> = (1..=5).map(|i| format!("{role}_{i}")).collect();
    let listed = five.join(", ");
    let text = message(run(&db, &options).await);
    assert!(
        text.contains(&format!("member of 5 role(s) ({listed}):")),
        "{text}"
    );
    db.admin_sql(&grant(6..=7)).unwrap();
    let text = message(run(&db, &options).await);
    assert!(
        text.contains(&format!("member of 7 role(s) ({listed} and 2 more):")),
        "{text}"
    );
}

/// A view finding names the tenant table the view reads.
#[tokio::test]
async fn a_view_finding_names_the_table_under_the_view() {
    let db = tenancy_testing::test_database();
    db.owner_sql(&baseline()).unwrap();
    db.admin_sql("CREATE VIEW line_ids AS SELECT id, order_id FROM order_lines")
        .unwrap();
    let report = run(&db, &app()).await;
    let messages: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.code == "view_bypasses_rls")
        .map(|f| f.message.as_str())
        .collect();
    assert_eq!(messages.len(), 1, "{:?}", report.codes());
    assert!(
        messages[0].starts_with("a view over public.order_lines without security_invoker"),
        "{}",
        messages[0]
    );
}

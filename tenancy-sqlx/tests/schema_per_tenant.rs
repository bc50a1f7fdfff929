//! Schema per tenant: tenants in their own schemas, next to tenants in
//! shared tables, in one database; provisioning, migrations of all schemas
//! with a failure in one, and each isolation layer holding on its own.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use common::{Orders, migration, tenant};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tenancy_core::rls::TenantBinding;
use tenancy_core::{Placement, SchemaName, Tenant, TenantError, TenantSettings};
use tenancy_sqlx::schemas::{Migrations, SchemaProvisioner};
use tenancy_sqlx::{Error, PgTenantStore, Scoped, TenantPool};
use tenancy_testing::{APP_ROLE, TestDatabase};

/// `slug` with its own schema.
fn schema_tenant(slug: &str) -> Tenant {
    let t = tenant(slug);
    let placement = Placement::shared().with_schema(SchemaName::for_tenant(&t.id()));
    t.to_builder()
        .settings(TenantSettings::default().with_placement(placement))
        .build()
}

fn schema_of(t: &Tenant) -> SchemaName {
    t.placement().schema().unwrap().clone()
}

/// The same migration as the shared-schema tests: the tenant column and its
/// policy stay in tenant schemas, so handlers and scoped queries do not
/// change when a tenant moves between models.
fn migrations() -> Migrations {
    Migrations::new().add(1, "orders", &migration()).unwrap()
}

async fn pool(url: &str) -> PgPool {
    PgPoolOptions::new()
        .max_connections(2)
        .connect(url)
        .await
        .unwrap()
}

struct World {
    db: TestDatabase,
    provisioner: SchemaProvisioner,
    provisioner_pool: PgPool,
    app: TenantPool,
    raw: PgPool,
    acme: Tenant,
    globex: Tenant,
    shared: Tenant,
}

async fn world() -> World {
    let db = tenancy_testing::test_database();
    // Shared tables in `public` for tenants without a schema.
    db.owner_sql(&migration()).unwrap();
    let provisioner_pool = pool(db.provisioner_url()).await;
    let provisioner = SchemaProvisioner::new(provisioner_pool.clone(), migrations())
        .grant_to(APP_ROLE)
        .unwrap();
    let (acme, globex, shared) = (
        schema_tenant("acme"),
        schema_tenant("globex"),
        tenant("initech"),
    );
    for t in [&acme, &globex] {
        assert_eq!(provisioner.provision(&schema_of(t)).await.unwrap(), [1]);
    }
    let raw = pool(db.app_url()).await;
    let app = TenantPool::new(raw.clone());
    for (t, item) in [(&acme, "Burger"), (&globex, "Taco"), (&shared, "Stapler")] {
        let mut tx = app.begin(t).await.unwrap();
        Scoped::<Orders>::insert()
            .value("item", item)
            .for_tenant(t)
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    World {
        db,
        provisioner,
        provisioner_pool,
        app,
        raw,
        acme,
        globex,
        shared,
    }
}

async fn items(pool: &TenantPool, t: &Tenant, sql: &str) -> Result<Vec<String>, Error> {
    let mut tx = pool.begin(t).await?;
    let rows = sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_owned()))
        .fetch_all(&mut tx)
        .await?;
    tx.rollback().await?;
    Ok(rows)
}

#[tokio::test]
async fn schema_tenants_and_shared_tenants_each_see_only_their_rows() {
    let w = world().await;
    let all = "SELECT item FROM orders ORDER BY item";
    assert_eq!(items(&w.app, &w.acme, all).await.unwrap(), ["Burger"]);
    assert_eq!(items(&w.app, &w.globex, all).await.unwrap(), ["Taco"]);
    assert_eq!(items(&w.app, &w.shared, all).await.unwrap(), ["Stapler"]);
    // The rows really are in separate schemas (checked without the SDK).
    let in_schema = |t: &Tenant| format!("SELECT count(*) FROM {}.orders", schema_of(t).sql());
    assert_eq!(w.db.admin_sql(&in_schema(&w.acme)).unwrap(), "1");
    assert_eq!(
        w.db.admin_sql("SELECT count(*) FROM public.orders")
            .unwrap(),
        "1"
    );

    // A pooled connection comes back as the app role, with the default path.
    let (user, path): (String, String) =
        sqlx::query_as("SELECT current_user::text, current_setting('search_path')")
            .fetch_one(&w.raw)
            .await
            .unwrap();
    assert_eq!(user, APP_ROLE);
    assert_eq!(path, "\"$user\", public");
}

#[tokio::test]
async fn raw_sql_can_switch_to_another_tenants_role_and_the_audit_says_so() {
    // Said plainly (docs/models.md, docs/attacks.md): the app role is a
    // member of every tenant role, so raw SQL in acme's transaction can
    // become globex. The default mode does not stop it; sealed tenants will.
    let w = world().await;
    let globex = schema_of(&w.globex).sql();
    let sql = format!(
        "SET LOCAL ROLE {globex}; SET LOCAL search_path = {globex}; \
         SET LOCAL app.tenant_id = '{}'; SELECT item FROM orders",
        w.globex.id()
    );
    let mut tx = w.app.begin(&w.acme).await.unwrap();
    let rows = sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
        .fetch_all(&mut tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let items: Vec<String> = rows.iter().map(|r| sqlx::Row::get(r, 0)).collect();
    assert_eq!(items, ["Taco"]);
    let report = tenancy_sqlx::audit::audit(
        &w.raw,
        &tenancy_sqlx::audit::AuditOptions::default().app_role(APP_ROLE),
    )
    .await
    .unwrap();
    let membership = report
        .findings
        .iter()
        .find(|f| f.code == "app_role_member_of_roles")
        .expect("the audit reports the memberships");
    // Roles are cluster-wide: other tests' tenants count too.
    assert!(
        membership.message.contains("can SET ROLE"),
        "{}",
        membership.message
    );
}

#[tokio::test]
async fn provisioning_as_the_database_owner_revokes_temporary_from_public() {
    let db = tenancy_testing::test_database();
    db.admin_sql(&format!(
        "GRANT TEMPORARY ON DATABASE {} TO PUBLIC",
        db.name()
    ))
    .unwrap();
    let admin = pool(db.admin_url()).await;
    let schema = schema_of(&schema_tenant("acme"));
    SchemaProvisioner::new(admin, migrations())
        .provision(&schema)
        .await
        .unwrap();
    let temporary = db
        .admin_sql(&format!(
            "SELECT has_database_privilege('public', current_database(), 'TEMPORARY') \
             OR has_database_privilege('{}', current_database(), 'TEMPORARY')",
            schema.as_str()
        ))
        .unwrap();
    assert_eq!(temporary.trim(), "f");
}

#[tokio::test]
async fn naming_another_tenants_schema_is_refused_by_the_database() {
    let w = world().await;
    // The application bug: a query that names globex's schema outright,
    // run in acme's transaction. search_path does not help here; the
    // schema role does.
    let sql = format!("SELECT item FROM {}.orders", schema_of(&w.globex).sql());
    let err = items(&w.app, &w.acme, &sql).await.unwrap_err();
    let Error::Database(sqlx::Error::Database(db)) = &err else {
        panic!("expected a database error, got {err}");
    };
    assert_eq!(db.code().as_deref(), Some("42501"), "{err}"); // insufficient_privilege
    // The shared table is out of reach of a schema tenant as well.
    let err = items(&w.app, &w.acme, "SELECT item FROM public.orders")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
    // Schemas made without per-tenant roles: the app role itself gets
    // access, and only the tenant column's row security stops the query:
    // the rows are filtered out instead of refused.
    let globex = schema_of(&w.globex).sql();
    w.db.admin_sql(&format!(
        "GRANT USAGE ON SCHEMA {globex} TO {APP_ROLE}; GRANT SELECT ON {globex}.orders TO {APP_ROLE}"
    ))
    .unwrap();
    let no_roles = w
        .app
        .clone()
        .with_binding(TenantBinding::default().dangerous_without_schema_roles());
    assert_eq!(
        items(&no_roles, &w.acme, &sql).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(items(&no_roles, &w.globex, &sql).await.unwrap(), ["Taco"]);
}

#[tokio::test]
async fn a_pool_that_requires_schemas_refuses_shared_tenants() {
    let w = world().await;
    let strict = w
        .app
        .clone()
        .with_binding(TenantBinding::default().require_schema());
    let err = strict.begin(&w.shared).await.unwrap_err();
    assert!(
        matches!(&err, Error::Tenant(TenantError::NoSchema { id }) if *id == w.shared.id().to_string()),
        "{err}"
    );
    assert!(strict.begin(&w.acme).await.is_ok());
}

#[tokio::test]
async fn migrating_all_schemas_reports_a_failing_one_and_resumes() {
    let w = world().await;
    let (acme, globex) = (schema_of(&w.acme), schema_of(&w.globex));
    let third = SchemaName::new("tenant_third").unwrap();
    w.provisioner.provision(&third).await.unwrap();
    // globex's schema drifted: the column the next migration adds exists.
    w.db.admin_sql(&format!(
        "ALTER TABLE {}.orders ADD note text",
        globex.sql()
    ))
    .unwrap();
    let next = SchemaProvisioner::new(
        w.provisioner_pool.clone(),
        migrations()
            .add(2, "order notes", "ALTER TABLE orders ADD note text")
            .unwrap(),
    );
    let mut seen = Vec::new();
    let report = next
        .migrate_all([acme.clone(), globex.clone(), third.clone()], 2, |p| {
            seen.push((p.done, p.total, p.schema.clone(), p.outcome.is_ok()));
        })
        .await;
    assert_eq!(seen.len(), 3);
    assert_eq!(seen.last().map(|s| (s.0, s.1)), Some((3, 3)));
    let mut migrated: Vec<_> = report
        .migrated
        .iter()
        .map(|(s, v)| (s.clone(), v.clone()))
        .collect();
    migrated.sort();
    assert_eq!(
        migrated,
        [(acme.clone(), vec![2]), (third.clone(), vec![2])]
    );
    assert_eq!(report.failed.len(), 1);
    let (failed, err) = &report.failed[0];
    assert_eq!(failed, &globex);
    assert!(
        matches!(err, Error::Migration { version: 2, schema, .. } if schema == &globex),
        "{err}"
    );
    assert!(err.to_string().contains("already exists"), "{err}");

    // Fix the drift and run again: only globex has work left.
    w.db.admin_sql(&format!("ALTER TABLE {}.orders DROP note", globex.sql()))
        .unwrap();
    let report = next
        .migrate_all([acme.clone(), globex.clone(), third], 2, |_| {})
        .await;
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.migrated, [(globex.clone(), vec![2])]);
    assert_eq!(report.up_to_date.len(), 2);
    // And the application writes the new column in globex's schema.
    let mut tx = w.app.begin(&w.globex).await.unwrap();
    sqlx::query("UPDATE orders SET note = 'spicy'")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn placements_come_from_the_tenant_store() {
    let w = world().await;
    let admin = pool(w.db.owner_url()).await;
    let store = PgTenantStore::new(admin.clone());
    sqlx::raw_sql(sqlx::AssertSqlSafe(store.create_table_sql()))
        .execute(&admin)
        .await
        .unwrap();
    // initech starts in the shared tables, then moves into its own schema.
    store.insert(&w.shared, None).await.unwrap();
    store.insert(&w.acme, None).await.unwrap();
    let listed: Vec<_> = store.tenant_schemas().await.unwrap();
    assert_eq!(listed, [(w.acme.id(), schema_of(&w.acme))]);

    let schema = SchemaName::for_tenant(&w.shared.id());
    w.provisioner.provision(&schema).await.unwrap();
    let placement = Placement::shared().with_schema(schema.clone());
    assert!(
        store
            .set_placement(w.shared.id_ref(), &placement)
            .await
            .unwrap()
    );
    let moved = tenancy_core::TenantStoreExt::by_id(&store, w.shared.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(moved.placement(), &placement);
    // Served from the new (still empty) schema: the handler code is the same.
    let all = "SELECT item FROM orders";
    assert_eq!(
        items(&w.app, &moved, all).await.unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(store.tenant_schemas().await.unwrap().len(), 2);
    // And back.
    assert!(
        store
            .set_placement(w.shared.id_ref(), &Placement::shared())
            .await
            .unwrap()
    );
    let back = tenancy_core::TenantStoreExt::by_id(&store, w.shared.id())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(items(&w.app, &back, all).await.unwrap(), ["Stapler"]);
}

#[tokio::test]
async fn shared_schemas_come_after_the_tenants_own_schema() {
    let w = world().await;
    w.db.owner_sql(
        "CREATE TABLE plans (name text PRIMARY KEY);
         INSERT INTO plans VALUES ('gold');
         GRANT SELECT ON plans TO PUBLIC;",
    )
    .unwrap();
    let pool = TenantPool::new(w.raw.clone()).with_binding(
        TenantBinding::default()
            .with_shared_schemas(&["public"])
            .unwrap(),
    );
    // The shared table resolves, and the tenant's own `orders` still wins
    // over `public.orders`.
    assert_eq!(
        items(&pool, &w.acme, "SELECT name FROM plans")
            .await
            .unwrap(),
        ["gold"]
    );
    assert_eq!(
        items(&pool, &w.acme, "SELECT item FROM orders")
            .await
            .unwrap(),
        ["Burger"]
    );
    // Without shared schemas, only the tenant's schema is searched.
    assert!(
        items(&w.app, &w.acme, "SELECT name FROM plans")
            .await
            .is_err()
    );
}

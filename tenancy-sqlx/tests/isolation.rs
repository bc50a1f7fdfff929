//! Tenant isolation on a real PostgreSQL, as the unprivileged app role.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use common::{Order, Orders, assert_clean, fixture};
use tenancy_core::rls::{SettingName, TenantBinding, TenantPolicy};
use tenancy_core::{TenantContext, TenantError, TenantStatus};
use tenancy_sqlx::{Error, Scoped, TenantPool};

fn items(orders: &[Order]) -> Vec<String> {
    let mut items: Vec<String> = orders.iter().map(|o| o.item.clone()).collect();
    items.sort();
    items
}

#[tokio::test]
async fn each_tenant_sees_exactly_its_rows_via_builder_and_raw_sql() {
    let f = fixture(2).await;
    for (tenant, want) in [
        (&f.acme, vec!["Burger", "Cola", "Fries"]),
        (&f.globex, vec!["Nachos", "Taco"]),
    ] {
        let mut tx = f.pool.begin(tenant).await.unwrap();
        let built: Vec<Order> = Scoped::<Orders>::select()
            .for_tenant(tenant)
            .fetch_all(&mut tx)
            .await
            .unwrap();
        let raw: Vec<Order> = sqlx::query_as("SELECT * FROM orders")
            .fetch_all(&mut tx)
            .await
            .unwrap();
        assert_eq!(items(&built), want);
        assert_eq!(items(&raw), want);
        assert!(raw.iter().all(|o| o.tenant_id == *tenant.id().as_uuid()));
        tx.commit().await.unwrap();
    }
}

#[tokio::test]
async fn rls_alone_stops_an_unscoped_select() {
    // The Friday-night bug: a raw query without WHERE tenant_id.
    let f = fixture(1).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(n, 3, "acme must see its 3 rows, not all 5");
    // Even asking for globex's rows by tenant id returns nothing.
    let theirs: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE tenant_id = $1")
        .bind(f.globex.id().as_uuid())
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(theirs, 0);
}

#[tokio::test]
async fn builder_alone_scopes_when_rls_is_off() {
    let f = fixture(1).await;
    // Switch the database layer off: no policy, no RLS.
    f.db.owner_sql(
        &tenancy_core::rls::TenantPolicy::new("orders")
            .unwrap()
            .disable_sql(),
    )
    .unwrap();
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let raw: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(
        raw, 5,
        "with RLS off a raw query sees everything (the hole the builder closes)"
    );
    let scoped = Scoped::<Orders>::select()
        .for_tenant(&f.acme)
        .count(&mut tx)
        .await
        .unwrap();
    assert_eq!(scoped, 3);
    let deleted = Scoped::<Orders>::delete()
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(
        deleted, 3,
        "a scoped delete without conditions removes only the tenant's rows"
    );
    let left: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(left, 2);
}

#[tokio::test]
async fn writes_cannot_reach_another_tenant() {
    let f = fixture(1).await;
    let globex_order: Order = {
        let mut tx = f.pool.begin(&f.globex).await.unwrap();
        Scoped::<Orders>::select()
            .for_tenant(&f.globex)
            .limit(1)
            .fetch_one(&mut tx)
            .await
            .unwrap()
    };
    let mut tx = f.pool.begin(&f.acme).await.unwrap();

    // Updating or deleting globex's row by id: silently nothing.
    let updated = sqlx::query("UPDATE orders SET quantity = 99 WHERE id = $1")
        .bind(globex_order.id)
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(updated.rows_affected(), 0);
    let n = Scoped::<Orders>::update()
        .set("quantity", 99)
        .where_eq("id", globex_order.id)
        .for_tenant(&f.acme);
    assert_eq!(n.execute(&mut tx).await.unwrap(), 0);
    let n = Scoped::<Orders>::delete()
        .where_eq("id", globex_order.id)
        .for_tenant(&f.acme);
    assert_eq!(n.execute(&mut tx).await.unwrap(), 0);

    // The builder refuses to set the tenant column at all.
    let err = Scoped::<Orders>::insert()
        .value("tenant_id", f.globex.id().as_uuid())
        .value("item", "Stolen")
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::TenantColumn {
                column: "tenant_id",
                ..
            }
        ),
        "{err}"
    );
    let err = Scoped::<Orders>::update()
        .set("tenant_id", f.globex.id().as_uuid())
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TenantColumn { .. }), "{err}");
    tx.commit().await.unwrap();

    // Raw SQL inserting a globex row from acme's transaction: WITH CHECK refuses.
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let err = sqlx::query("INSERT INTO orders (tenant_id, item) VALUES ($1, 'Stolen')")
        .bind(f.globex.id().as_uuid())
        .execute(&mut tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    drop(tx);

    // Moving one of acme's rows to globex: refused too.
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let err = sqlx::query("UPDATE orders SET tenant_id = $1")
        .bind(f.globex.id().as_uuid())
        .execute(&mut tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    drop(tx);

    // globex still has exactly its two untouched rows.
    let mut tx = f.pool.begin(&f.globex).await.unwrap();
    let rows: Vec<Order> = Scoped::<Orders>::select()
        .for_tenant(&f.globex)
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(rows.len(), 2);
    assert!(rows.iter().all(|o| o.quantity == 1));
}

#[tokio::test]
async fn no_tenant_means_no_rows_and_no_writes() {
    let f = fixture(1).await;
    // A plain pool (what TenantPool hides) runs without a tenant.
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&f.raw)
        .await
        .unwrap();
    assert_eq!(n, 0, "no tenant must mean no rows, never all rows");
    // The column default is the (missing) tenant: NULL, which WITH CHECK refuses.
    let err = sqlx::query("INSERT INTO orders (item) VALUES ('x')")
        .execute(&f.raw)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    let err = sqlx::query("INSERT INTO orders (tenant_id, item) VALUES ($1, 'x')")
        .bind(f.acme.id().as_uuid())
        .execute(&f.raw)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
}

#[tokio::test]
async fn a_released_connection_has_no_tenant_and_no_transaction() {
    let f = fixture(1).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let setting: String = sqlx::query_scalar("SELECT current_setting('app.tenant_id')")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(setting, f.acme.id().to_string());
    tx.commit().await.unwrap();
    assert_clean(&f.raw).await;
}

#[tokio::test]
async fn begin_current_takes_the_context_and_fails_closed_without_one() {
    let f = fixture(1).await;
    let err = f.pool.begin_current().await.unwrap_err();
    assert!(matches!(err, Error::Tenant(TenantError::Missing)), "{err}");
    let n = TenantContext::scope(f.globex.clone(), async {
        let mut tx = f.pool.begin_current().await.unwrap();
        Scoped::<Orders>::select()
            .for_current_tenant()
            .unwrap()
            .count(&mut tx)
            .await
            .unwrap()
    })
    .await;
    assert_eq!(n, 2);
    let err = Scoped::<Orders>::select().for_current_tenant().unwrap_err();
    assert!(matches!(err, Error::Tenant(TenantError::Missing)));
}

#[tokio::test]
async fn a_builder_bound_to_one_tenant_refuses_another_tenants_transaction() {
    let f = fixture(1).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let err = Scoped::<Orders>::select()
        .for_tenant(&f.globex)
        .count(&mut tx)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Tenant(TenantError::Mismatch { expected, found }) if *expected == f.globex.id().to_string() && *found == f.acme.id().to_string()),
        "{err}"
    );
}

#[tokio::test]
async fn a_suspended_tenant_cannot_open_a_transaction() {
    let f = fixture(1).await;
    let suspended = f.acme.to_builder().status(TenantStatus::Suspended).build();
    let err = f.pool.begin(&suspended).await.unwrap_err();
    assert!(
        matches!(err, Error::Tenant(TenantError::Inactive { .. })),
        "{err}"
    );
}

#[tokio::test]
async fn builder_covers_select_insert_update_delete() {
    let f = fixture(1).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let new: Order = Scoped::<Orders>::insert()
        .value("item", "Salad")
        .value("quantity", 4)
        .for_tenant(&f.acme)
        .returning(&mut tx)
        .await
        .unwrap();
    assert_eq!(
        new.tenant_id,
        *f.acme.id().as_uuid(),
        "tenant filled from the bound tenant"
    );
    let changed: Vec<Order> = Scoped::<Orders>::update()
        .set("quantity", 5)
        .where_eq("id", new.id)
        .for_tenant(&f.acme)
        .returning(&mut tx)
        .await
        .unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].quantity, 5);
    let top: Vec<Order> = Scoped::<Orders>::select()
        .columns(&["id", "tenant_id", "item", "quantity"])
        .order_by("quantity", tenancy_sqlx::scoped::Order::Desc)
        .limit(2)
        .for_tenant(&f.acme)
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(top.len(), 2);
    assert_eq!(top[0].item, "Salad");
    let gone = Scoped::<Orders>::delete()
        .where_eq("id", new.id)
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(gone, 1);
    let err = Scoped::<Orders>::update()
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::EmptyUpdate));
    let err = Scoped::<Orders>::select()
        .where_eq("id; DROP TABLE orders", 1)
        .for_tenant(&f.acme)
        .count(&mut tx)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::InvalidName(_)), "{err}");
    tx.commit().await.unwrap();
}

/// `notes` with `policy`'s tenant column, then `enable` (one of the
/// policy's ways to put it under RLS).
fn notes_sql(policy: &TenantPolicy, enable: &str) -> String {
    format!(
        "CREATE TABLE notes (id int GENERATED ALWAYS AS IDENTITY, {}, body text NOT NULL,
             PRIMARY KEY (tenant_id, id));
         {enable}",
        policy.column_sql()
    )
}

/// A table whose policy reads `myapp.tenant`, and a pool bound through it.
async fn custom_setting_world() -> (tenancy_testing::TestDatabase, TenantPool) {
    let db = tenancy_testing::test_database();
    let setting = SettingName::new("myapp.tenant").unwrap();
    let policy = TenantPolicy::new("notes")
        .unwrap()
        .with_setting(setting.clone());
    db.owner_sql(&notes_sql(&policy, &policy.enable_sql()))
        .unwrap();
    let pool = TenantPool::new(sqlx::PgPool::connect(db.app_url()).await.unwrap())
        .with_binding(TenantBinding::default().with_setting(setting));
    (db, pool)
}

#[tokio::test]
async fn a_binding_with_another_setting_binds_the_policies_that_read_it() {
    let (db, pool) = custom_setting_world().await;
    let (a, b) = (common::tenant("a"), common::tenant("b"));
    for t in [&a, &b] {
        // The column default reads the same setting: the row is t's.
        let mut tx = pool.begin(t).await.unwrap();
        sqlx::query("INSERT INTO notes (body) VALUES ($1)")
            .bind(t.slug().as_str())
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    for t in [&a, &b] {
        let mut tx = pool.begin(t).await.unwrap();
        let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM notes")
            .fetch_all(&mut tx)
            .await
            .unwrap();
        assert_eq!(bodies, [t.slug().as_str()]);
        tx.rollback().await.unwrap();
    }
    // The session mode binds the same setting.
    let mut session = pool.dangerous_session(&a).await.unwrap();
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM notes")
        .fetch_all(&mut session)
        .await
        .unwrap();
    assert_eq!(bodies, ["a"]);
    session.release().await.unwrap();
    assert_eq!(db.admin_sql("SELECT count(*) FROM notes").unwrap(), "2");
    assert_eq!(pool.setting().as_str(), "myapp.tenant");
    // A closed pool opens nothing more.
    pool.close().await;
    let err = pool.begin(&a).await.unwrap_err();
    assert!(
        matches!(err, Error::Database(sqlx::Error::PoolClosed)),
        "{err:?}"
    );
}

#[tokio::test]
async fn an_unforced_policy_binds_the_app_role_but_not_yet_the_owner() {
    let db = tenancy_testing::test_database();
    let policy = TenantPolicy::new("notes").unwrap();
    db.owner_sql(&notes_sql(&policy, &policy.enable_unforced_sql()))
        .unwrap();
    let (a, b) = (common::tenant("a"), common::tenant("b"));
    db.admin_sql(&format!(
        "INSERT INTO notes (tenant_id, body) VALUES ('{}', 'a'), ('{}', 'b')",
        a.id(),
        b.id()
    ))
    .unwrap();
    let owner_sees =
        |db: &tenancy_testing::TestDatabase| db.owner_sql("SELECT count(*) FROM notes").unwrap();
    // The old deployment (the owner) still sees every row; the app role is
    // already isolated.
    assert_eq!(owner_sees(&db), "2");
    let pool = TenantPool::new(sqlx::PgPool::connect(db.app_url()).await.unwrap());
    let mut tx = pool.begin(&a).await.unwrap();
    let bodies: Vec<String> = sqlx::query_scalar("SELECT body FROM notes")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(bodies, ["a"]);
    tx.rollback().await.unwrap();
    // Forced: the owner without a tenant sees nothing.
    db.owner_sql(&policy.force_sql()).unwrap();
    assert_eq!(owner_sees(&db), "0");
}

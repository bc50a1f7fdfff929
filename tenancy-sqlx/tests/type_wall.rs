//! The type-level wall alone: every scoped operation with row-level
//! security switched off on the table (proven by a raw count that sees every
//! tenant's rows). Each test runs the operation for acme and compares the
//! rows it saw or touched with an administrator query with an explicit
//! `WHERE tenant_id = ...`, and checks that globex's rows are untouched.
//! Each fails when the builders' tenant condition is removed.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use std::collections::BTreeMap;

use common::{Fixture, Order, Orders, fixture};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Executor, PgPool};
use tenancy_core::Tenant;
use tenancy_core::rls::TenantPolicy;
use tenancy_sqlx::{Error, Scoped};
use uuid::Uuid;

/// A fixture with RLS off on `orders`, and an administrator pool.
async fn rls_off() -> (Fixture, PgPool) {
    let f = fixture(1).await;
    f.db.owner_sql(&TenantPolicy::new("orders").unwrap().disable_sql())
        .unwrap();
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let raw: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(
        raw, 5,
        "RLS must be off: a raw query sees every tenant's rows"
    );
    tx.rollback().await.unwrap();
    let admin = PgPoolOptions::new()
        .max_connections(1)
        .connect(f.db.admin_url())
        .await
        .unwrap();
    (f, admin)
}

/// A tenant's rows, by id, from an explicit `WHERE`: (item, quantity).
async fn rows_of(admin: &PgPool, tenant: &Tenant) -> BTreeMap<Uuid, (String, i32)> {
    let rows: Vec<(Uuid, String, i32)> =
        sqlx::query_as("SELECT id, item, quantity FROM orders WHERE tenant_id = $1")
            .bind(tenant.id().as_uuid())
            .fetch_all(admin)
            .await
            .unwrap();
    rows.into_iter().map(|(id, i, q)| (id, (i, q))).collect()
}

fn ids(orders: &[Order]) -> Vec<Uuid> {
    let mut ids: Vec<Uuid> = orders.iter().map(|o| o.id).collect();
    ids.sort_unstable();
    ids
}

async fn any_id(admin: &PgPool, tenant: &Tenant) -> Uuid {
    *rows_of(admin, tenant).await.keys().next().unwrap()
}

#[tokio::test]
async fn select_and_count_see_exactly_the_tenants_rows() {
    let (f, admin) = rls_off().await;
    let acme = rows_of(&admin, &f.acme).await;
    let globex_id = any_id(&admin, &f.globex).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();

    let all: Vec<Order> = Scoped::<Orders>::select()
        .for_tenant(&f.acme)
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(ids(&all), acme.keys().copied().collect::<Vec<_>>());
    let count = Scoped::<Orders>::select()
        .for_tenant(&f.acme)
        .count(&mut tx)
        .await
        .unwrap();
    assert_eq!(usize::try_from(count).unwrap(), acme.len());

    // Another tenant's row by its id: not found, whichever way it is fetched.
    let theirs: Option<Order> = Scoped::<Orders>::select()
        .where_eq("id", globex_id)
        .for_tenant(&f.acme)
        .fetch_optional(&mut tx)
        .await
        .unwrap();
    assert!(theirs.is_none());
    let err = Scoped::<Orders>::select()
        .where_eq("id", globex_id)
        .for_tenant(&f.acme)
        .fetch_one::<Order>(&mut tx)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Database(sqlx::Error::RowNotFound)),
        "{err}"
    );
    let theirs = Scoped::<Orders>::select()
        .where_eq("id", globex_id)
        .for_tenant(&f.acme)
        .count(&mut tx)
        .await
        .unwrap();
    assert_eq!(theirs, 0);
    // Its own row by id: found.
    let own_id = *acme.keys().next().unwrap();
    let own: Order = Scoped::<Orders>::select()
        .where_eq("id", own_id)
        .for_tenant(&f.acme)
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(own.tenant_id, *f.acme.id().as_uuid());
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn insert_writes_only_into_the_tenant() {
    let (f, admin) = rls_off().await;
    let globex_before = rows_of(&admin, &f.globex).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    Scoped::<Orders>::insert()
        .value("item", "Shake")
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap();
    let returned: Order = Scoped::<Orders>::insert()
        .value("item", "Pie")
        .for_tenant(&f.acme)
        .returning(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(returned.tenant_id, *f.acme.id().as_uuid());
    let acme = rows_of(&admin, &f.acme).await;
    assert_eq!(acme.len(), 5);
    assert!(acme.values().any(|(item, _)| item == "Shake"));
    assert_eq!(acme.get(&returned.id).map(|r| r.0.as_str()), Some("Pie"));
    assert_eq!(rows_of(&admin, &f.globex).await, globex_before);
}

#[tokio::test]
async fn update_changes_only_the_tenants_rows() {
    let (f, admin) = rls_off().await;
    let globex_before = rows_of(&admin, &f.globex).await;
    let globex_id = any_id(&admin, &f.globex).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    // No condition but the tenant's.
    let changed = Scoped::<Orders>::update()
        .set("quantity", 7_i32)
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(changed, 3);
    let returned: Vec<Order> = Scoped::<Orders>::update()
        .set("quantity", 8_i32)
        .for_tenant(&f.acme)
        .returning(&mut tx)
        .await
        .unwrap();
    // Another tenant's row by id: untouched.
    let theirs = Scoped::<Orders>::update()
        .set("quantity", 99_i32)
        .where_eq("id", globex_id)
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(theirs, 0);
    tx.commit().await.unwrap();
    let acme = rows_of(&admin, &f.acme).await;
    assert_eq!(ids(&returned), acme.keys().copied().collect::<Vec<_>>());
    assert!(acme.values().all(|(_, quantity)| *quantity == 8));
    assert_eq!(rows_of(&admin, &f.globex).await, globex_before);
}

#[tokio::test]
async fn delete_removes_only_the_tenants_rows() {
    let (f, admin) = rls_off().await;
    let globex_before = rows_of(&admin, &f.globex).await;
    let globex_id = any_id(&admin, &f.globex).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let theirs = Scoped::<Orders>::delete()
        .where_eq("id", globex_id)
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(theirs, 0);
    let deleted = Scoped::<Orders>::delete()
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(deleted, 3);
    tx.commit().await.unwrap();
    assert!(rows_of(&admin, &f.acme).await.is_empty());
    assert_eq!(rows_of(&admin, &f.globex).await, globex_before);
}

#[tokio::test]
async fn comparisons_lists_nulls_and_pages_stay_in_the_tenant() {
    let (f, admin) = rls_off().await;
    // Quantities 1..=3 for acme's orders, 9 for globex's: a condition that
    // reached globex would show.
    admin
        .execute("UPDATE orders SET quantity = 9")
        .await
        .unwrap();
    let acme_ids: Vec<Uuid> = rows_of(&admin, &f.acme).await.keys().copied().collect();
    for (i, id) in acme_ids.iter().enumerate() {
        sqlx::query("UPDATE orders SET quantity = $1 WHERE id = $2")
            .bind(i32::try_from(i).unwrap() + 1)
            .bind(id)
            .execute(&admin)
            .await
            .unwrap();
    }
    let acme = rows_of(&admin, &f.acme).await;
    let expect = |keep: &dyn Fn(&(String, i32)) -> bool| -> Vec<Uuid> {
        acme.iter()
            .filter(|(_, r)| keep(r))
            .map(|(id, _)| *id)
            .collect()
    };
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    macro_rules! ids_where {
        ($builder:expr) => {{
            let rows: Vec<Order> = $builder
                .for_tenant(&f.acme)
                .fetch_all(&mut tx)
                .await
                .unwrap();
            assert!(rows.iter().all(|o| o.tenant_id == *f.acme.id().as_uuid()));
            ids(&rows)
        }};
    }
    let select = Scoped::<Orders>::select;
    assert_eq!(
        ids_where!(select().where_gt("quantity", 1_i32)),
        expect(&|r| r.1 > 1)
    );
    assert_eq!(
        ids_where!(select().where_ge("quantity", 2_i32)),
        expect(&|r| r.1 >= 2)
    );
    assert_eq!(
        ids_where!(select().where_lt("quantity", 9_i32)),
        expect(&|r| r.1 < 9)
    );
    assert_eq!(
        ids_where!(select().where_le("quantity", 2_i32)),
        expect(&|r| r.1 <= 2)
    );
    assert_eq!(
        ids_where!(select().where_ne("item", "Burger")),
        expect(&|r| r.0 != "Burger")
    );
    assert_eq!(
        ids_where!(select().where_in("item", vec!["Burger".to_owned(), "Taco".to_owned()])),
        expect(&|r| r.0 == "Burger")
    );
    assert_eq!(ids_where!(select().where_null("item")), Vec::<Uuid>::new());
    assert_eq!(
        ids_where!(select().where_not_null("item")),
        expect(&|_| true)
    );

    // A page: ordered by quantity, the second and third rows.
    let page: Vec<Order> = select()
        .order_by("quantity", tenancy_sqlx::Order::Asc)
        .limit(2)
        .offset(1)
        .for_tenant(&f.acme)
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(page.iter().map(|o| o.quantity).collect::<Vec<_>>(), [2, 3]);
    // count respects the page instead of dropping it.
    let on_page = select()
        .limit(2)
        .offset(2)
        .for_tenant(&f.acme)
        .count(&mut tx)
        .await
        .unwrap();
    assert_eq!(on_page, 1);
    let changed = Scoped::<Orders>::update()
        .set("quantity", 7_i32)
        .where_lt("quantity", 3_i32)
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(changed, 2);
    tx.commit().await.unwrap();
    let globex = rows_of(&admin, &f.globex).await;
    assert!(
        globex.values().all(|(_, q)| *q == 9),
        "globex untouched: {globex:?}"
    );
}

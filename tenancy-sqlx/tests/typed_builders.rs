//! Typed columns and what CRUD needs: `Clone`d base queries, `SET column =
//! column + value`, `SET column = now()`, `RETURNING` chosen columns, typed
//! conditions; run against PostgreSQL with two tenants.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use tenancy_core::rls::TenantPolicy;
use tenancy_sqlx::Scoped;

tenancy_sqlx::tenant_table!(TypedOrders = "orders" {
    id: uuid::Uuid,
    item: String,
    quantity: i32,
});
tenancy_sqlx::tenant_table!(Stamps = "stamps" { id: i32, touched: Option<String> });

#[tokio::test]
async fn typed_builders_do_crud_for_one_tenant() {
    let fx = common::fixture(2).await;
    let mut tx = fx.pool.begin(&fx.acme).await.unwrap();
    assert_eq!(TypedOrders::quantity.name(), "quantity");
    // A clone keeps the conditions and values bound so far.
    let fries = Scoped::<TypedOrders>::select()
        .where_eq(TypedOrders::item, "Fries")
        .for_tenant(&fx.acme);
    assert_eq!(fries.clone().count(&mut tx).await.unwrap(), 1);
    assert_eq!(fries.count(&mut tx).await.unwrap(), 1);
    // One row or none; a page counts only its own rows.
    let named = |item: &'static str| {
        Scoped::<TypedOrders>::select()
            .column(TypedOrders::item)
            .where_eq(TypedOrders::item, item)
            .for_tenant(&fx.acme)
    };
    let one: Option<(String,)> = named("Fries").fetch_optional(&mut tx).await.unwrap();
    assert_eq!(one, Some(("Fries".to_owned(),)));
    let none: Option<(String,)> = named("Taco").fetch_optional(&mut tx).await.unwrap();
    assert_eq!(none, None, "Taco is globex's");
    let all = || Scoped::<TypedOrders>::select().for_tenant(&fx.acme);
    assert_eq!(all().limit(2).count(&mut tx).await.unwrap(), 2);
    assert_eq!(all().offset(2).count(&mut tx).await.unwrap(), 1);
    assert_eq!(all().count(&mut tx).await.unwrap(), 3);

    // A base query, cloned and narrowed twice.
    let base = Scoped::<TypedOrders>::select()
        .where_gt(TypedOrders::quantity, 0)
        .for_tenant(&fx.acme);
    assert_eq!(base.clone().count(&mut tx).await.unwrap(), 3);
    let fries: Vec<(String, i32)> = base
        .clone()
        .column(TypedOrders::item)
        .column(TypedOrders::quantity)
        .where_eq(TypedOrders::item, "Fries")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(fries, [("Fries".to_owned(), 1)]);

    // SET quantity = quantity + 2, RETURNING only the chosen columns.
    let changed: Vec<(String, i32)> = Scoped::<TypedOrders>::update()
        .set_add(TypedOrders::quantity, 2)
        .where_in(TypedOrders::item, vec!["Fries", "Cola"])
        .return_column(TypedOrders::item)
        .return_column(TypedOrders::quantity)
        .for_tenant(&fx.acme)
        .returning(&mut tx)
        .await
        .unwrap();
    assert_eq!(changed.len(), 2);
    assert!(changed.iter().all(|(_, q)| *q == 3), "{changed:?}");

    let (item,): (String,) = Scoped::<TypedOrders>::insert()
        .value(TypedOrders::item, "Soda")
        .return_column(TypedOrders::item)
        .for_tenant(&fx.acme)
        .returning(&mut tx)
        .await
        .unwrap();
    assert_eq!(item, "Soda");
    tx.commit().await.unwrap();

    // globex's rows did not move.
    let mut tx = fx.pool.begin(&fx.globex).await.unwrap();
    let quantities: Vec<(i32,)> = Scoped::<TypedOrders>::select()
        .column(TypedOrders::quantity)
        .for_tenant(&fx.globex)
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(quantities, [(1,), (1,)]);
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn set_now_stamps_the_tenants_rows() {
    let fx = common::fixture(2).await;
    let policy = TenantPolicy::new("stamps").unwrap();
    fx.db
        .owner_sql(&format!(
            "CREATE TABLE stamps ({}, id int NOT NULL, touched text); {}",
            policy.column_sql(),
            policy.enable_sql()
        ))
        .unwrap();
    for t in [&fx.acme, &fx.globex] {
        let mut tx = fx.pool.begin(t).await.unwrap();
        Scoped::<Stamps>::insert()
            .value(Stamps::id, 1)
            .for_tenant(t)
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    let mut tx = fx.pool.begin(&fx.acme).await.unwrap();
    let n = Scoped::<Stamps>::update()
        .set_now(Stamps::touched)
        .for_tenant(&fx.acme)
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(n, 1);
    tx.commit().await.unwrap();
    let mut tx = fx.pool.begin(&fx.globex).await.unwrap();
    let untouched = Scoped::<Stamps>::select()
        .where_null(Stamps::touched)
        .for_tenant(&fx.globex)
        .count(&mut tx)
        .await
        .unwrap();
    assert_eq!(untouched, 1);
    tx.commit().await.unwrap();
}

/// Builders prepare named statements (kept on the connection, parsed once)
/// unless the pool says it sits behind a proxy that cannot keep them.
#[tokio::test]
async fn builders_prepare_named_statements_only_where_the_pool_allows() {
    let fx = common::fixture(1).await;
    let unnamed_raw = sqlx::postgres::PgPoolOptions::new()
        .max_connections(1)
        .connect(fx.db.app_url())
        .await
        .unwrap();
    let unnamed = tenancy_sqlx::TenantPool::new(unnamed_raw).unnamed_statements();
    for (pool, named) in [(&fx.pool, true), (&unnamed, false)] {
        let mut tx = pool.begin(&fx.acme).await.unwrap();
        assert_eq!(tx.named_statements(), named);
        let n = Scoped::<TypedOrders>::select()
            .for_tenant(&fx.acme)
            .count(&mut tx)
            .await
            .unwrap();
        assert_eq!(n, 3);
        let prepared: i64 = sqlx::query_scalar(
            "SELECT count(*) FROM pg_prepared_statements \
             WHERE statement LIKE '%count(%' AND statement NOT LIKE '%pg_prepared_statements%'",
        )
        .persistent(false)
        .fetch_one(&mut tx)
        .await
        .unwrap();
        assert_eq!(prepared > 0, named, "named: {named}, prepared: {prepared}");
        tx.rollback().await.unwrap();
    }
}

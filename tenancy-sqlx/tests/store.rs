//! `PgTenantStore` against a real PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use sqlx::postgres::PgPoolOptions;
use tenancy_core::{Tenant, TenantId, TenantLimits, TenantSettings, TenantStatus, TenantStoreExt};
use tenancy_sqlx::PgTenantStore;

#[tokio::test]
async fn looks_tenants_up_by_slug_id_and_domain() {
    let db = tenancy_testing::test_database();
    let owner = PgPoolOptions::new()
        .max_connections(1)
        .connect(db.owner_url())
        .await
        .unwrap();
    let app = PgPoolOptions::new()
        .max_connections(1)
        .connect(db.app_url())
        .await
        .unwrap();
    let admin_store = PgTenantStore::new(owner);
    sqlx::raw_sql(sqlx::AssertSqlSafe(admin_store.create_table_sql()))
        .execute(&app)
        .await
        .unwrap_err();
    db.owner_sql(&admin_store.create_table_sql()).unwrap();

    let acme = Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap())
        .name("Acme Restaurant")
        .settings(
            TenantSettings::default()
                .with_plan("pro")
                .with_limits(TenantLimits::none().with_requests_per_second(5)),
        )
        .build();
    admin_store
        .insert(&acme, Some("Orders.Acme-Corp.com"))
        .await
        .unwrap();

    let store = PgTenantStore::new(app);
    let by_slug = store
        .by_slug(&"acme".parse().unwrap())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(by_slug, acme);
    assert_eq!(
        store.by_id(acme.id()).await.unwrap().unwrap().id(),
        acme.id()
    );
    assert_eq!(
        store
            .by_domain("orders.acme-corp.com")
            .await
            .unwrap()
            .unwrap()
            .id(),
        acme.id()
    );
    assert!(
        store
            .by_slug(&"nobody".parse().unwrap())
            .await
            .unwrap()
            .is_none()
    );
    assert!(store.by_id(TenantId::new_v4()).await.unwrap().is_none());
    assert!(store.by_domain("evil.com").await.unwrap().is_none());

    assert!(
        admin_store
            .set_status(acme.id_ref(), TenantStatus::Suspended)
            .await
            .unwrap()
    );
    let suspended = store.by_id(acme.id()).await.unwrap().unwrap();
    assert_eq!(suspended.status(), TenantStatus::Suspended);

    // An unknown status fails closed: read as suspended.
    db.owner_sql(&format!(
        "UPDATE tenancy_tenants SET status = 'pending' WHERE id = '{}'",
        acme.id()
    ))
    .unwrap();
    assert!(!store.by_id(acme.id()).await.unwrap().unwrap().is_active());
}

#[tokio::test]
async fn a_dead_database_is_a_store_error_not_an_unknown_tenant() {
    let db = tenancy_testing::test_database();
    let app = PgPoolOptions::new()
        .max_connections(1)
        .connect(db.app_url())
        .await
        .unwrap();
    let store = PgTenantStore::new(app.clone());
    // No table: the store cannot answer, which is not "no such tenant".
    let err = store.by_slug(&"acme".parse().unwrap()).await.unwrap_err();
    assert!(
        err.to_string().contains("tenant store is unavailable"),
        "{err}"
    );
}

#[tokio::test]
async fn stores_tenants_keyed_by_bigint_and_text_ids() {
    use tenancy_core::{Placement, SchemaName, TenantKey, TenantStore};

    let db = tenancy_testing::test_database();
    let owner = PgPoolOptions::new()
        .max_connections(1)
        .connect(db.owner_url())
        .await
        .unwrap();
    let bigint = PgTenantStore::<i64>::from(owner.clone());
    assert!(bigint.create_table_sql().contains("id bigint PRIMARY KEY"));
    db.owner_sql(&bigint.create_table_sql()).unwrap();
    let id = TenantId::new(42_i64).unwrap();
    let acme = Tenant::builder(id, "acme".parse().unwrap())
        .settings(
            TenantSettings::default()
                .with_placement(Placement::shared().with_schema(SchemaName::for_tenant(&id))),
        )
        .build();
    bigint.insert(&acme, None).await.unwrap();
    assert_eq!(bigint.by_id(id).await.unwrap(), Some(acme.clone()));
    assert_eq!(
        bigint
            .lookup(&TenantKey::parse_slug_or_id("42").unwrap())
            .await
            .unwrap()
            .into_tenant()
            .map(|t| t.id()),
        Some(id)
    );
    assert_eq!(
        bigint.by_id(TenantId::new(7_i64).unwrap()).await.unwrap(),
        None
    );
    let schemas: Vec<String> = bigint
        .schema_names()
        .await
        .unwrap()
        .iter()
        .map(|s| s.as_str().to_owned())
        .collect();
    assert_eq!(schemas, ["tenant_42"]);

    let text = PgTenantStore::<String>::from(owner)
        .with_table("text_tenants")
        .unwrap();
    db.owner_sql(&text.create_table_sql()).unwrap();
    let slug_id = TenantId::new("Acme-Corp".to_owned()).unwrap();
    text.insert(
        &Tenant::builder(slug_id.clone(), "acme".parse().unwrap()).build(),
        None,
    )
    .await
    .unwrap();
    assert!(text.by_id(slug_id).await.unwrap().is_some());
    // Ids are compared exactly: another case is another tenant.
    let other_case = TenantId::new("acme-corp".to_owned()).unwrap();
    assert!(text.by_id(other_case).await.unwrap().is_none());
}

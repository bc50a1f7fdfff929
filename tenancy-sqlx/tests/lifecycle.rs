//! Tenant lifecycle on real PostgreSQL: create, suspend, export, delete
//! (dry run first), for a tenant in shared tables and one with its own
//! schema. Tables come from the catalog, foreign keys included.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use common::{Orders, migration, tenant};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tenancy_core::rls::TenantPolicy;
use tenancy_core::{
    Placement, SchemaName, Tenant, TenantError, TenantSettings, TenantStatus, TenantStoreExt,
};
use tenancy_sqlx::lifecycle::TenantLifecycle;
use tenancy_sqlx::schemas::{Migrations, SchemaProvisioner};
use tenancy_sqlx::{Error, PgTenantStore, Scoped, TenantPool};
use tenancy_testing::{APP_ROLE, TestDatabase};

tenancy_sqlx::tenant_table!(Notes = "order_notes");

/// orders, and notes that reference them: deleting must go notes first.
fn schema_sql() -> String {
    let notes = TenantPolicy::new("order_notes").unwrap();
    format!(
        "{}
        CREATE TABLE order_notes (
            id uuid NOT NULL DEFAULT gen_random_uuid(),
            {},
            order_id uuid NOT NULL,
            note text NOT NULL,
            PRIMARY KEY (tenant_id, id),
            FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id)
        );
        {}",
        migration(),
        notes.column_sql(),
        notes.enable_sql()
    )
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
    lifecycle: TenantLifecycle,
    store: PgTenantStore,
    app: TenantPool,
}

async fn world() -> World {
    let db = tenancy_testing::test_database();
    db.owner_sql(&schema_sql()).unwrap();
    let owner = pool(db.owner_url()).await;
    let store = PgTenantStore::new(owner.clone());
    sqlx::raw_sql(sqlx::AssertSqlSafe(store.create_table_sql()))
        .execute(&owner)
        .await
        .unwrap();
    let app = TenantPool::new(pool(db.app_url()).await);
    let provisioner = SchemaProvisioner::new(
        pool(db.provisioner_url()).await,
        Migrations::new()
            .add(1, "orders and notes", &schema_sql())
            .unwrap(),
    )
    .grant_to(APP_ROLE)
    .unwrap();
    let lifecycle = TenantLifecycle::new(store.clone(), app.clone()).with_schemas(provisioner);
    World {
        db,
        lifecycle,
        store,
        app,
    }
}

/// An order with `notes` notes.
async fn order(app: &TenantPool, t: &Tenant, item: &str, notes: usize) {
    let mut tx = app.begin(t).await.unwrap();
    let id: uuid::Uuid = sqlx::query_scalar("INSERT INTO orders (item) VALUES ($1) RETURNING id")
        .bind(item)
        .fetch_one(&mut tx)
        .await
        .unwrap();
    for i in 0..notes {
        Scoped::<Notes>::insert()
            .value("order_id", id)
            .value("note", format!("note {i}"))
            .for_tenant(t)
            .execute(&mut tx)
            .await
            .unwrap();
    }
    tx.commit().await.unwrap();
}

async fn count(app: &TenantPool, t: &Tenant) -> i64 {
    let mut tx = app.begin(t).await.unwrap();
    let n = Scoped::<Orders>::select()
        .for_tenant(t)
        .count(&mut tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    n
}

#[tokio::test]
async fn a_shared_tenant_is_exported_suspended_and_deleted_without_touching_others() {
    let w = world().await;
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    w.lifecycle
        .create(&acme, Some("acme.example"))
        .await
        .unwrap();
    w.lifecycle.create(&globex, None).await.unwrap();
    order(&w.app, &acme, "Burger", 2).await;
    order(&w.app, &acme, "Fries", 0).await;
    order(&w.app, &globex, "Taco", 1).await;

    // Export: every row of every tenant table, as JSON lines.
    let mut out = Vec::new();
    let counts = w.lifecycle.export(&acme, &mut out).await.unwrap();
    assert_eq!(
        counts,
        [
            ("public.order_notes".to_owned(), 2),
            ("public.orders".to_owned(), 2)
        ]
    );
    let lines: Vec<serde_json::Value> = String::from_utf8(out)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4);
    for line in &lines {
        assert_eq!(line["row"]["tenant_id"], acme.id().to_string(), "{line}");
    }
    assert!(
        lines
            .iter()
            .any(|l| l["table"] == "public.orders" && l["row"]["item"] == "Fries")
    );

    // Suspend: no tenant transaction opens for it any more.
    assert!(w.lifecycle.suspend(acme.id_ref()).await.unwrap());
    let suspended = w.store.by_id(acme.id()).await.unwrap().unwrap();
    assert_eq!(suspended.status(), TenantStatus::Suspended);
    let err = w.app.begin(&suspended).await.unwrap_err();
    assert!(
        matches!(err, Error::Tenant(TenantError::Inactive { .. })),
        "{err}"
    );

    // Dry run: what would go, nothing goes.
    let plan = w.lifecycle.delete(&suspended, true).await.unwrap();
    assert!(plan.dry_run);
    assert_eq!(plan.rows(), 4);
    assert_eq!(plan.tables[0], ("public.order_notes".to_owned(), 2));
    assert_eq!(w.db.admin_sql("SELECT count(*) FROM orders").unwrap(), "3");

    // Delete: notes before orders (the foreign key), one transaction.
    let done = w.lifecycle.delete(&suspended, false).await.unwrap();
    assert!(!done.dry_run);
    assert_eq!(done.tables, plan.tables);
    assert_eq!(
        w.db.admin_sql("SELECT string_agg(item, ',') FROM orders")
            .unwrap(),
        "Taco"
    );
    assert_eq!(
        w.db.admin_sql("SELECT count(*) FROM order_notes").unwrap(),
        "1"
    );
    assert!(w.store.by_id(acme.id()).await.unwrap().is_none());
    assert_eq!(count(&w.app, &globex).await, 1);
}

#[tokio::test]
async fn a_schema_tenant_is_created_in_its_schema_and_deleted_with_it() {
    let w = world().await;
    let id = tenancy_core::TenantId::new_v4();
    let schema = SchemaName::for_tenant(&id);
    let bank = Tenant::builder(id, "bank".parse().unwrap())
        .settings(
            TenantSettings::default()
                .with_placement(Placement::shared().with_schema(schema.clone())),
        )
        .build();
    w.lifecycle.create(&bank, None).await.unwrap();
    assert_eq!(
        w.store.tenant_schemas().await.unwrap(),
        [(id, schema.clone())]
    );
    order(&w.app, &bank, "Loan", 1).await;
    assert_eq!(
        w.db.admin_sql("SELECT count(*) FROM public.orders")
            .unwrap(),
        "0"
    );

    let mut out = Vec::new();
    let counts = w.lifecycle.export(&bank, &mut out).await.unwrap();
    assert_eq!(counts.iter().map(|c| c.1).sum::<u64>(), 2);
    assert!(counts[0].0.starts_with(schema.as_str()), "{counts:?}");

    let plan = w.lifecycle.delete(&bank, true).await.unwrap();
    assert_eq!(plan.rows(), 2);
    let schema_exists = format!("SELECT count(*) FROM pg_namespace WHERE nspname = '{schema}'");
    assert_eq!(w.db.admin_sql(&schema_exists).unwrap(), "1");
    w.lifecycle.delete(&bank, false).await.unwrap();
    assert_eq!(w.db.admin_sql(&schema_exists).unwrap(), "0");
    let role_exists = format!("SELECT count(*) FROM pg_roles WHERE rolname = '{schema}'");
    assert_eq!(w.db.admin_sql(&role_exists).unwrap(), "0");
    assert!(w.store.by_id(id).await.unwrap().is_none());
}

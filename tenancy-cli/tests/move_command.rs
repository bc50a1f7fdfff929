//! `tenancy move` against real PostgreSQL: a tenant to its own schema and
//! back, with its rows verified; bad arguments refused with the reason.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use common::{tenancy, text};
use sqlx::postgres::PgPoolOptions;
use tenancy_core::{Tenant, TenantId, TenantStoreExt};
use tenancy_sqlx::PgTenantStore;
use tenancy_testing::APP_ROLE;
use tenancy_testing::fixtures::orders_table_sql;

/// A database with the tenants table, acme (2 orders) and globex (1),
/// and a migrations directory for tenant schemas.
async fn world() -> (tenancy_testing::TestDatabase, PgTenantStore, Tenant, String) {
    let db = tenancy_testing::test_database();
    db.owner_sql(&orders_table_sql()).unwrap();
    let owner = PgPoolOptions::new().connect(db.owner_url()).await.unwrap();
    let store = PgTenantStore::new(owner);
    db.owner_sql(&format!(
        "{}GRANT SELECT, UPDATE ON tenancy_tenants TO {APP_ROLE};",
        store.create_table_sql()
    ))
    .unwrap();
    let acme = Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build();
    let globex = Tenant::builder(TenantId::new_v4(), "globex".parse().unwrap()).build();
    for (t, items) in [(&acme, "'Burger'), ('Fries'"), (&globex, "'Taco'")] {
        store.insert(t, None).await.unwrap();
        db.admin_sql(&format!(
            "INSERT INTO orders (tenant_id, item) SELECT '{}', i FROM (VALUES ({items})) AS v(i)",
            t.id()
        ))
        .unwrap();
    }
    let dir = std::env::temp_dir().join(format!("tenancy-cli-move-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("1_orders.sql"), orders_table_sql()).unwrap();
    let dir = dir.to_str().unwrap().to_owned();
    (db, store, acme, dir)
}

fn base(db: &tenancy_testing::TestDatabase) -> Vec<&str> {
    vec![
        "move",
        "--database-url",
        db.app_url(),
        "--provisioner-url",
        db.provisioner_url(),
        "--drain",
        "0",
    ]
}

#[tokio::test]
async fn moves_a_tenant_to_its_own_schema_and_back() {
    let (db, store, acme, dir) = world().await;
    let base = base(&db);
    let dir = dir.as_str();

    let to_schema = tenancy(
        &[
            &base[..],
            &["--tenant", "acme", "--to", "schema", "--migrations", dir],
        ]
        .concat(),
    );
    let out = text(&to_schema);
    assert_eq!(to_schema.status.code(), Some(0), "{out}");
    assert!(
        out.contains("moved 2 rows of acme to its own schema"),
        "{out}"
    );
    assert!(out.contains("orders"), "{out}");
    let now = store.by_id(acme.id()).await.unwrap().unwrap();
    let schema = now
        .placement()
        .schema()
        .expect("a schema of its own")
        .clone();
    assert!(now.is_active());
    assert_eq!(
        db.admin_sql(&format!(
            "SELECT string_agg(item, ',' ORDER BY item) FROM {}.orders",
            schema.sql()
        ))
        .unwrap(),
        "Burger,Fries"
    );
    assert_eq!(
        db.admin_sql("SELECT string_agg(item, ',' ORDER BY item) FROM public.orders")
            .unwrap(),
        "Taco",
        "acme's shared rows are gone, globex's stay"
    );

    let back = tenancy(
        &[
            &base[..],
            &[
                "--tenant",
                &acme.id().to_string(),
                "--to",
                "shared",
                "--json",
            ],
        ]
        .concat(),
    );
    assert_eq!(back.status.code(), Some(0), "{}", text(&back));
    let json: serde_json::Value = serde_json::from_slice(&back.stdout).unwrap();
    assert_eq!(json["rows"], 2);
    assert_eq!(json["tables"][0]["table"], "orders");
    assert_eq!(json["from"], format!("its own schema {}", schema.as_str()));
    assert!(
        store
            .by_id(acme.id())
            .await
            .unwrap()
            .unwrap()
            .placement()
            .is_shared()
    );
    assert_eq!(
        db.admin_sql(&format!(
            "SELECT count(*) FROM pg_namespace WHERE nspname = '{}'",
            schema.as_str()
        ))
        .unwrap(),
        "0",
        "the schema is dropped"
    );
    assert_eq!(
        db.admin_sql("SELECT string_agg(item, ',' ORDER BY item) FROM public.orders")
            .unwrap(),
        "Burger,Fries,Taco"
    );
}

#[tokio::test]
async fn refuses_bad_arguments_and_a_move_to_where_the_tenant_is() {
    let (db, store, acme, _) = world().await;
    let base = base(&db);
    for (args, why) in [
        (
            vec!["--tenant", "acme", "--to", "elsewhere"],
            "expected shared, schema or target:NAME",
        ),
        (
            vec!["--tenant", "acme", "--to", "target:ghost"],
            "no --target ghost=URL",
        ),
        (
            vec!["--tenant", "nobody", "--to", "schema"],
            "no such tenant",
        ),
        (
            vec!["--tenant", "acme", "--to", "schema"],
            "give --migrations DIR",
        ),
        (
            vec!["--tenant", "acme", "--to", "shared", "--target", "nonsense"],
            "expected NAME=URL",
        ),
    ] {
        let out = tenancy(&[&base[..], &args[..]].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(why), "{args:?}: {}", text(&out));
    }
    // Already there: the move fails (exit 1) and changes nothing.
    let again = tenancy(&[&base[..], &["--tenant", "acme", "--to", "shared"]].concat());
    assert_eq!(again.status.code(), Some(1), "{}", text(&again));
    assert!(text(&again).contains("already there"), "{}", text(&again));
    assert!(store.by_id(acme.id()).await.unwrap().unwrap().is_active());
}

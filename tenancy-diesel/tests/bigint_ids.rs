//! A schema keyed by `account_id bigint`, as existing apps are: the diesel
//! pool, the transaction and the scoped queries on `i64` tenant ids, each
//! wall alone, compared with an explicit `WHERE`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use tenancy_core::rls::TenantPolicy;
use tenancy_core::{IdSqlType, Tenant, TenantId};
use tenancy_diesel::{Error, ForTenantDsl, TenantPool};

diesel::table! {
    invoices (account_id, id) {
        account_id -> Int8,
        id -> Int8,
        total -> Int8,
    }
}
tenancy_diesel::tenant_table!(invoices.account_id: i64);

fn account(id: i64, slug: &str) -> Tenant<i64> {
    Tenant::builder(TenantId::new(id).unwrap(), slug.parse().unwrap()).build()
}

fn database() -> tenancy_testing::TestDatabase {
    let db = tenancy_testing::test_database();
    let policy = TenantPolicy::new("invoices")
        .unwrap()
        .with_tenant_column("account_id")
        .unwrap()
        .with_id_type(IdSqlType::BigInt);
    db.owner_sql(&format!(
        "CREATE TABLE invoices (account_id bigint NOT NULL, id bigint NOT NULL, total bigint NOT NULL, PRIMARY KEY (account_id, id));
         INSERT INTO invoices VALUES (1, 1, 100), (1, 2, 250), (2, 3, 999);
         {}",
        policy.enable_sql()
    ))
    .unwrap();
    db
}

fn pool(db: &tenancy_testing::TestDatabase) -> TenantPool<i64> {
    let raw = Pool::builder()
        .max_size(2)
        .build(ConnectionManager::<PgConnection>::new(db.app_url()))
        .unwrap();
    TenantPool::<i64>::from(raw)
}

fn explicit(db: &tenancy_testing::TestDatabase, account: i64) -> String {
    db.admin_sql(&format!(
        "SELECT string_agg(id::text, ',' ORDER BY id) FROM invoices WHERE account_id = {account}"
    ))
    .unwrap()
}

fn ids(rows: &[(i64, i64, i64)]) -> String {
    rows.iter()
        .map(|(_, id, _)| id.to_string())
        .collect::<Vec<_>>()
        .join(",")
}

#[test]
fn each_account_sees_its_invoices_through_both_walls() {
    let db = database();
    let pool = pool(&db);
    for (id, slug) in [(1, "acme"), (2, "globex")] {
        let tenant = account(id, slug);
        let rows: Vec<(i64, i64, i64)> = pool
            .transaction(&tenant, |tx| {
                tx.fetch_all(
                    invoices::table
                        .for_tenant(&tenant)
                        .order(invoices::id.asc()),
                )
            })
            .map_err(|e: Error| e)
            .unwrap();
        assert_eq!(ids(&rows), explicit(&db, id), "{slug}");
        // The database wall alone: an unscoped raw query sees the same rows.
        let raw: Vec<(i64, i64, i64)> = pool
            .transaction(&tenant, |tx| {
                Ok::<_, Error>(
                    invoices::table
                        .order(invoices::id.asc())
                        .load(tx.dangerous_raw_connection())?,
                )
            })
            .unwrap();
        assert_eq!(ids(&raw), explicit(&db, id), "{slug}, RLS alone");
    }
}

#[test]
fn the_type_wall_alone_with_rls_off() {
    let db = database();
    db.owner_sql("ALTER TABLE invoices NO FORCE ROW LEVEL SECURITY; ALTER TABLE invoices DISABLE ROW LEVEL SECURITY")
        .unwrap();
    let pool = pool(&db);
    let acme = account(1, "acme");
    let rows: Vec<(i64, i64, i64)> = pool
        .transaction(&acme, |tx| tx.fetch_all(invoices::table.for_tenant(&acme)))
        .map_err(|e: Error| e)
        .unwrap();
    assert_eq!(ids(&rows), explicit(&db, 1));
    // A query scoped to globex refuses to run in acme's transaction.
    let globex = account(2, "globex");
    let err = pool
        .transaction(&acme, |tx| {
            tx.fetch_all::<(i64, i64, i64), _>(invoices::table.for_tenant(&globex))
        })
        .unwrap_err();
    assert!(
        matches!(
            &err,
            Error::Tenant(tenancy_core::TenantError::Mismatch { expected, found })
                if expected == "2" && found == "1"
        ),
        "{err}"
    );
}

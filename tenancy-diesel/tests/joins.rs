//! Joins on the scoped path: `Scoped::inner_join` and `Scoped::left_join`
//! add the joined table's tenant condition to its ON clause, so tables
//! keyed by `(tenant_id, id)` join on their ids alone. Checked with
//! row-level security switched off (the joins alone must keep tenants
//! apart), against an explicit WHERE on a database that holds one tenant.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use tenancy_core::Tenant;
use tenancy_core::rls::TenantPolicy;
use tenancy_diesel::{Error, ForTenantDsl, TenantPool};

diesel::table! {
    shop_orders (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Int8,
        customer -> Text,
    }
}
diesel::table! {
    shop_lines (tenant_id, order_id, line_no) {
        tenant_id -> Uuid,
        order_id -> Int8,
        line_no -> Int4,
        item -> Text,
        qty -> Int4,
    }
}
diesel::allow_tables_to_appear_in_same_query!(shop_orders, shop_lines);
tenancy_diesel::tenant_table!(shop_orders.tenant_id, shop_lines.tenant_id);

/// Orders 1..=3 for every tenant (same ids: the keys are composite); order
/// 3 has no lines. `k` makes each tenant's data differ.
fn seed(pool: &TenantPool, tenant: &Tenant, k: i32) {
    pool.transaction(tenant, |tx| {
        for id in 1..=3_i64 {
            tx.insert(diesel::insert_into(shop_orders::table).values((
                shop_orders::id.eq(id),
                shop_orders::customer.eq(format!("{}-{id}", tenant.slug())),
            )))?;
        }
        for (order, line, qty) in [(1_i64, 1, 1), (1, 2, 2), (2, 1, 3)] {
            tx.insert(diesel::insert_into(shop_lines::table).values((
                shop_lines::order_id.eq(order),
                shop_lines::line_no.eq(line),
                shop_lines::item.eq(format!("{}-item", tenant.slug())),
                shop_lines::qty.eq(qty * k),
            )))?;
        }
        Ok::<_, Error>(())
    })
    .unwrap();
}

fn database(tenants: &[(&Tenant, i32)]) -> (tenancy_testing::TestDatabase, TenantPool) {
    let db = tenancy_testing::test_database();
    let mut sql = String::from(
        "CREATE TABLE shop_orders (tenant_id uuid NOT NULL, id bigint NOT NULL, customer text NOT NULL,
                                   PRIMARY KEY (tenant_id, id));
         CREATE TABLE shop_lines (tenant_id uuid NOT NULL, order_id bigint NOT NULL, line_no int NOT NULL,
                                  item text NOT NULL, qty int NOT NULL, PRIMARY KEY (tenant_id, order_id, line_no));",
    );
    for table in ["shop_orders", "shop_lines"] {
        sql.push_str(&TenantPolicy::new(table).unwrap().enable_sql());
    }
    db.owner_sql(&sql).unwrap();
    let raw = Pool::builder()
        .max_size(1)
        .build(ConnectionManager::<PgConnection>::new(db.app_url()))
        .unwrap();
    let pool = TenantPool::new(raw);
    for (t, k) in tenants {
        seed(&pool, t, *k);
    }
    // Row-level security off: only the queries' own conditions remain.
    db.owner_sql(
        "ALTER TABLE shop_orders NO FORCE ROW LEVEL SECURITY; ALTER TABLE shop_orders DISABLE ROW LEVEL SECURITY;
         ALTER TABLE shop_lines NO FORCE ROW LEVEL SECURITY; ALTER TABLE shop_lines DISABLE ROW LEVEL SECURITY;",
    )
    .unwrap();
    (db, pool)
}

type Joined = (Vec<(String, String, i32)>, Vec<(String, Option<i32>)>, i64);

/// An inner join, a left join with an aggregate-free page, and a count.
fn report(pool: &TenantPool, tenant: &Tenant) -> Joined {
    pool.transaction(tenant, |tx| {
        let t = tx.tenant().clone();
        let inner = tx.fetch_all(
            shop_orders::table
                .for_tenant(&t)
                .inner_join(shop_lines::table, shop_lines::order_id.eq(shop_orders::id))
                .filter(shop_lines::qty.gt(0))
                .order((shop_orders::id, shop_lines::line_no))
                .select((shop_orders::customer, shop_lines::item, shop_lines::qty)),
        )?;
        let left = tx.fetch_all(
            shop_orders::table
                .for_tenant(&t)
                .left_join(shop_lines::table, shop_lines::order_id.eq(shop_orders::id))
                .order((shop_orders::id, shop_lines::line_no.nullable()))
                .select((shop_orders::customer, shop_lines::qty.nullable())),
        )?;
        let count = tx.fetch_all(
            shop_orders::table
                .for_tenant(&t)
                .inner_join(shop_lines::table, shop_lines::order_id.eq(shop_orders::id))
                .count(),
        )?;
        Ok::<_, Error>((inner, left, count[0]))
    })
    .unwrap()
}

#[test]
fn joins_see_only_the_tenants_rows_without_rls() {
    let (acme, globex) = (common::tenant("acme"), common::tenant("globex"));
    let (_solo_db, solo) = database(&[(&acme, 1)]);
    let (_shared_db, shared) = database(&[(&acme, 1), (&globex, 5)]);
    let alone = report(&solo, &acme);
    assert_eq!(alone.0.len(), 3, "{alone:?}");
    assert_eq!(alone.1.len(), 4, "order 3 without lines, once: {alone:?}");
    assert_eq!(alone.2, 3);
    assert_eq!(report(&shared, &acme), alone);
    assert_ne!(report(&shared, &globex), alone);
}

#[test]
fn the_joined_tables_tenant_condition_is_in_its_on_clause() {
    let acme = common::tenant("acme");
    let query = shop_orders::table
        .for_tenant(&acme)
        .left_join(
            shop_lines::table,
            diesel::dsl::sql::<diesel::sql_types::Bool>("TRUE OR TRUE"),
        )
        .select(shop_orders::id);
    let sql = query.debug_sql();
    assert!(
        sql.contains(r#"LEFT OUTER JOIN "shop_lines" ON (("shop_lines"."tenant_id" = $1)) AND (TRUE OR TRUE))"#),
        "{sql}"
    );
    assert!(
        sql.contains(r#"WHERE ("shop_orders"."tenant_id" = $2)"#),
        "{sql}"
    );
}

//! The type-level wall alone, for diesel (r2d2) and diesel-async: every
//! scoped operation with row-level security switched off on the table
//! (proven by a raw count that sees every tenant's rows). Each test runs
//! the operation for acme, compares what it saw or touched with an
//! administrator query with an explicit `WHERE tenant_id = ...`, and checks
//! that globex's rows are untouched. Each fails when `for_tenant` stops
//! adding the tenant condition.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::collections::BTreeMap;

mod common;
use common::{Fixture, fixture, orders};

use diesel::prelude::*;
use diesel_async::AsyncPgConnection;
use diesel_async::pooled_connection::AsyncDieselConnectionManager;
use diesel_async::pooled_connection::deadpool::Pool as AsyncPool;
use tenancy_core::Tenant;
use tenancy_core::rls::TenantPolicy;
use tenancy_diesel::{AsyncTenantPool, Error, ForTenantDsl};
use uuid::Uuid;

/// [`fixture`], then RLS off on `orders`, proven by a raw count.
fn rls_off() -> Fixture {
    let f = fixture();
    f.db.owner_sql(&TenantPolicy::new("orders").unwrap().disable_sql())
        .unwrap();
    let seen: i64 = f
        .pool
        .transaction(&f.acme, |tx| {
            Ok::<_, Error>(diesel::RunQueryDsl::get_result(
                orders::table.count(),
                tx.dangerous_raw_connection(),
            )?)
        })
        .unwrap();
    assert_eq!(
        seen, 5,
        "RLS must be off: a raw query sees every tenant's rows"
    );
    f
}

/// A tenant's rows, by id, from an explicit `WHERE`: (item, quantity).
fn rows_of(f: &Fixture, tenant: &Tenant) -> BTreeMap<Uuid, (String, i32)> {
    let out =
        f.db.admin_sql(&format!(
            "SELECT id, item, quantity FROM orders WHERE tenant_id = '{}'",
            tenant.id()
        ))
        .unwrap();
    out.lines()
        .filter(|l| !l.is_empty())
        .map(|l| {
            let mut parts = l.split('|');
            let id = parts.next().unwrap().parse().unwrap();
            let item = parts.next().unwrap().to_owned();
            let quantity = parts.next().unwrap().parse().unwrap();
            (id, (item, quantity))
        })
        .collect()
}

fn sorted(mut ids: Vec<Uuid>) -> Vec<Uuid> {
    ids.sort_unstable();
    ids
}

#[test]
fn select_sees_exactly_the_tenants_rows() {
    let f = rls_off();
    let acme = rows_of(&f, &f.acme);
    let globex_id = *rows_of(&f, &f.globex).keys().next().unwrap();
    let (all, theirs, own) = f
        .pool
        .transaction(&f.acme, |tx| {
            let t = tx.tenant().clone();
            let all: Vec<Uuid> = tx.fetch_all(orders::table.for_tenant(&t).select(orders::id))?;
            let theirs: Option<Uuid> = tx.fetch_optional(
                orders::table
                    .for_tenant(&t)
                    .filter(orders::id.eq(globex_id))
                    .select(orders::id),
            )?;
            let own: Option<Uuid> = tx.fetch_optional(
                orders::table
                    .for_tenant(&t)
                    .order(orders::item)
                    .limit(1)
                    .select(orders::tenant_id),
            )?;
            Ok::<_, Error>((all, theirs, own))
        })
        .unwrap();
    assert_eq!(sorted(all), acme.keys().copied().collect::<Vec<_>>());
    assert_eq!(theirs, None);
    assert_eq!(own, Some(*f.acme.id().as_uuid()));
}

#[test]
fn inserts_land_in_the_tenant() {
    let f = rls_off();
    let globex_before = rows_of(&f, &f.globex);
    let returned: Vec<(Uuid, Uuid)> = f
        .pool
        .transaction(&f.acme, |tx| {
            tx.insert(diesel::insert_into(orders::table).values(orders::item.eq("Shake")))?;
            tx.insert_returning(
                diesel::insert_into(orders::table)
                    .values(orders::item.eq("Pie"))
                    .returning((orders::id, orders::tenant_id)),
            )
        })
        .unwrap();
    assert_eq!(returned.len(), 1);
    assert_eq!(returned[0].1, *f.acme.id().as_uuid());
    let acme = rows_of(&f, &f.acme);
    assert_eq!(acme.len(), 5);
    assert!(acme.values().any(|(item, _)| item == "Shake"));
    assert_eq!(acme.get(&returned[0].0).map(|r| r.0.as_str()), Some("Pie"));
    assert_eq!(rows_of(&f, &f.globex), globex_before);
}

#[test]
fn update_and_delete_touch_only_the_tenants_rows() {
    let f = rls_off();
    let globex_before = rows_of(&f, &f.globex);
    let globex_id = *globex_before.keys().next().unwrap();
    let (updated, theirs_updated) = f
        .pool
        .transaction(&f.acme, |tx| {
            let t = tx.tenant().clone();
            let updated = tx.execute_scoped(
                diesel::update(orders::table)
                    .set(orders::quantity.eq(7))
                    .for_tenant(&t),
            )?;
            let theirs = tx.execute_scoped(
                diesel::update(orders::table)
                    .set(orders::quantity.eq(99))
                    .for_tenant(&t)
                    .filter(orders::id.eq(globex_id)),
            )?;
            Ok::<_, Error>((updated, theirs))
        })
        .unwrap();
    assert_eq!((updated, theirs_updated), (3, 0));
    assert!(rows_of(&f, &f.acme).values().all(|(_, q)| *q == 7));
    assert_eq!(rows_of(&f, &f.globex), globex_before);

    let (theirs_deleted, deleted) = f
        .pool
        .transaction(&f.acme, |tx| {
            let t = tx.tenant().clone();
            let theirs = tx.execute_scoped(
                diesel::delete(orders::table)
                    .for_tenant(&t)
                    .filter(orders::id.eq(globex_id)),
            )?;
            let deleted = tx.execute_scoped(diesel::delete(orders::table).for_tenant(&t))?;
            Ok::<_, Error>((theirs, deleted))
        })
        .unwrap();
    assert_eq!((theirs_deleted, deleted), (0, 3));
    assert!(rows_of(&f, &f.acme).is_empty());
    assert_eq!(rows_of(&f, &f.globex), globex_before);
}

#[tokio::test]
async fn diesel_async_select_insert_update_delete_touch_only_the_tenants_rows() {
    let f = rls_off();
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(f.db.app_url());
    let pool = AsyncTenantPool::new(AsyncPool::builder(manager).max_size(1).build().unwrap());
    let globex_before = rows_of(&f, &f.globex);
    let globex_id = *globex_before.keys().next().unwrap();
    let acme_before = rows_of(&f, &f.acme);

    let mut tx = pool.begin(&f.acme).await.unwrap();
    let raw: i64 = diesel_async::RunQueryDsl::get_result(
        orders::table.count(),
        tx.dangerous_raw_connection().unwrap(),
    )
    .await
    .unwrap();
    assert_eq!(raw, 5, "RLS must be off for diesel-async too");
    let t = f.acme.clone();
    let all: Vec<Uuid> = tx
        .fetch_all(orders::table.for_tenant(&t).select(orders::id))
        .await
        .unwrap();
    assert_eq!(sorted(all), acme_before.keys().copied().collect::<Vec<_>>());
    let theirs: Vec<Uuid> = tx
        .fetch_all(
            orders::table
                .for_tenant(&t)
                .filter(orders::id.eq(globex_id))
                .select(orders::id),
        )
        .await
        .unwrap();
    assert!(theirs.is_empty());
    tx.insert(diesel::insert_into(orders::table).values(orders::item.eq("Shake")))
        .await
        .unwrap();
    let updated = tx
        .execute_scoped(
            diesel::update(orders::table)
                .set(orders::quantity.eq(7))
                .for_tenant(&t),
        )
        .await
        .unwrap();
    let theirs_deleted = tx
        .execute_scoped(
            diesel::delete(orders::table)
                .for_tenant(&t)
                .filter(orders::id.eq(globex_id)),
        )
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!((updated, theirs_deleted), (4, 0));
    let acme = rows_of(&f, &f.acme);
    assert_eq!(acme.len(), 4);
    assert!(acme.values().all(|(_, q)| *q == 7));
    assert_eq!(rows_of(&f, &f.globex), globex_before);

    let mut tx = pool.begin(&f.acme).await.unwrap();
    let deleted = tx
        .execute_scoped(diesel::delete(orders::table).for_tenant(&t))
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(deleted, 4);
    assert!(rows_of(&f, &f.acme).is_empty());
    assert_eq!(rows_of(&f, &f.globex), globex_before);
}

#[test]
fn a_condition_with_or_cannot_widen_a_scoped_query() {
    use diesel::dsl::sql;
    use diesel::sql_types::Bool;
    let f = rls_off();
    let globex_before = rows_of(&f, &f.globex);
    let (seen, updated, sql_text) = f
        .pool
        .transaction(&f.acme, |tx| {
            let t = tx.tenant().clone();
            let query = orders::table
                .for_tenant(&t)
                .filter(sql::<Bool>("TRUE OR TRUE"))
                .select(orders::tenant_id);
            let sql_text = query.debug_sql();
            let seen: Vec<Uuid> = tx.fetch_all(query)?;
            let updated = tx.execute_scoped(
                diesel::update(orders::table)
                    .set(orders::quantity.eq(5))
                    .for_tenant(&t)
                    .filter(sql::<Bool>("TRUE OR TRUE")),
            )?;
            Ok::<_, Error>((seen, updated, sql_text))
        })
        .unwrap();
    assert!(sql_text.contains("AND (TRUE OR TRUE)"), "{sql_text}");
    assert_eq!(seen.len(), 3, "{sql_text}");
    assert!(seen.iter().all(|t| t == f.acme.id().as_uuid()));
    assert_eq!(updated, 3);
    assert_eq!(rows_of(&f, &f.globex), globex_before);
}

#[test]
fn writes_naming_the_tenant_column_are_refused_before_the_database() {
    let f = rls_off();
    let (acme_before, globex_before) = (rows_of(&f, &f.acme), rows_of(&f, &f.globex));
    let globex = *f.globex.id().as_uuid();
    let planted = f.pool.transaction(&f.acme, |tx| {
        tx.insert(
            diesel::insert_into(orders::table)
                .values((orders::tenant_id.eq(globex), orders::item.eq("Stolen"))),
        )
    });
    assert!(
        matches!(planted, Err(Error::TenantColumn { .. })),
        "{planted:?}"
    );
    let returned = f.pool.transaction(&f.acme, |tx| {
        tx.insert_returning::<Uuid, _, _, _, _>(
            diesel::insert_into(orders::table)
                .values((orders::tenant_id.eq(globex), orders::item.eq("Stolen")))
                .returning(orders::id),
        )
    });
    assert!(
        matches!(returned, Err(Error::TenantColumn { .. })),
        "{returned:?}"
    );
    let moved = f.pool.transaction(&f.acme, |tx| {
        let t = tx.tenant().clone();
        tx.execute_scoped(
            diesel::update(orders::table)
                .set(orders::tenant_id.eq(globex))
                .for_tenant(&t),
        )
    });
    assert!(
        matches!(moved, Err(Error::TenantColumn { .. })),
        "{moved:?}"
    );
    assert_eq!(rows_of(&f, &f.acme), acme_before);
    assert_eq!(rows_of(&f, &f.globex), globex_before);
}

#[tokio::test]
async fn diesel_async_fetch_optional_and_insert_returning_stay_in_the_tenant() {
    let f = rls_off();
    let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new(f.db.app_url());
    let pool = AsyncTenantPool::new(AsyncPool::builder(manager).max_size(1).build().unwrap());
    let globex_before = rows_of(&f, &f.globex);
    let globex_id = *globex_before.keys().next().unwrap();
    let t = f.acme.clone();
    let mut tx = pool.begin(&t).await.unwrap();
    let theirs: Option<Uuid> = tx
        .fetch_optional(
            orders::table
                .for_tenant(&t)
                .filter(orders::id.eq(globex_id))
                .select(orders::id),
        )
        .await
        .unwrap();
    assert_eq!(theirs, None);
    let own: Option<Uuid> = tx
        .fetch_optional(
            orders::table
                .for_tenant(&t)
                .select(orders::tenant_id)
                .limit(1),
        )
        .await
        .unwrap();
    assert_eq!(own, Some(*t.id().as_uuid()));
    let returned: Vec<(Uuid, Uuid)> = tx
        .insert_returning(
            diesel::insert_into(orders::table)
                .values(orders::item.eq("Pie"))
                .returning((orders::id, orders::tenant_id)),
        )
        .await
        .unwrap();
    let refused = tx
        .insert_returning::<Uuid, _, _, _, _>(
            diesel::insert_into(orders::table)
                .values((
                    orders::tenant_id.eq(*f.globex.id().as_uuid()),
                    orders::item.eq("Stolen"),
                ))
                .returning(orders::id),
        )
        .await;
    assert!(
        matches!(refused, Err(Error::TenantColumn { .. })),
        "{refused:?}"
    );
    tx.commit().await.unwrap();
    assert_eq!(returned.len(), 1);
    assert_eq!(returned[0].1, *t.id().as_uuid());
    assert!(rows_of(&f, &f.acme).contains_key(&returned[0].0));
    assert_eq!(rows_of(&f, &f.globex), globex_before);
}

#[test]
fn count_group_by_distinct_and_pages_stay_in_the_tenant() {
    use diesel::dsl::sum;
    let f = rls_off();
    // A second Burger for acme, and globex quantities that would change the sums.
    f.pool
        .transaction(&f.acme, |tx| {
            tx.insert(
                diesel::insert_into(orders::table)
                    .values((orders::item.eq("Burger"), orders::quantity.eq(4))),
            )
        })
        .unwrap();
    let (count, per_item, items, page) = f
        .pool
        .transaction(&f.acme, |tx| {
            let t = tx.tenant().clone();
            let count: Option<i64> = tx.fetch_optional(orders::table.for_tenant(&t).count())?;
            let per_item: Vec<(String, Option<i64>)> = tx.fetch_all(
                orders::table
                    .for_tenant(&t)
                    .group_by(orders::item)
                    .select((orders::item, sum(orders::quantity)))
                    .order(orders::item),
            )?;
            let items: Vec<String> = tx.fetch_all(
                orders::table
                    .for_tenant(&t)
                    .select(orders::item)
                    .distinct()
                    .order(orders::item),
            )?;
            let page: Vec<String> = tx.fetch_all(
                orders::table
                    .for_tenant(&t)
                    .select(orders::item)
                    .order(orders::item)
                    .limit(2)
                    .offset(1),
            )?;
            Ok::<_, Error>((count, per_item, items, page))
        })
        .unwrap();
    // The same, from an administrator's explicit WHERE.
    let acme = rows_of(&f, &f.acme);
    assert_eq!(count, Some(i64::try_from(acme.len()).unwrap()));
    let mut expected: BTreeMap<String, i64> = BTreeMap::new();
    for (item, quantity) in acme.values() {
        *expected.entry(item.clone()).or_default() += i64::from(*quantity);
    }
    let per_item: BTreeMap<String, i64> = per_item
        .into_iter()
        .map(|(item, total)| (item, total.unwrap_or(0)))
        .collect();
    assert_eq!(per_item, expected);
    assert_eq!(items, expected.keys().cloned().collect::<Vec<_>>());
    let mut all: Vec<String> = acme.values().map(|(item, _)| item.clone()).collect();
    all.sort();
    assert_eq!(page, all[1..3].to_vec());
}

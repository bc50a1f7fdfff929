//! What the sync and async tests share: the session state the next user of
//! a pooled connection sees.
#![allow(dead_code, unreachable_pub)]

use diesel::QueryableByName;
use diesel::sql_types::{Integer, Text};

/// What the next user of the pool's one connection sees of its session
/// ([`tenancy_testing::session`]).
#[derive(QueryableByName, Debug)]
pub struct SessionState {
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Integer)]
    pub pid: i32,
}

/// The query behind [`SessionState`].
pub fn session_state_sql() -> String {
    tenancy_testing::session::session_state_sql("app.tenant_id", "orders")
}

#[allow(unused_imports)]
pub use tenancy_testing::session::fresh_session;

use diesel::prelude::*;
use diesel::r2d2::{ConnectionManager, Pool};
use tenancy_core::{Tenant, TenantId};
use tenancy_diesel::{Error, TenantPool};
use tenancy_testing::TestDatabase;

diesel::table! {
    orders (tenant_id, id) {
        id -> Uuid,
        tenant_id -> Uuid,
        item -> Text,
        quantity -> Int4,
    }
}
tenancy_diesel::tenant_table!(orders.tenant_id);

/// What each seed tenant orders: acme 3 items, globex 2.
pub const SEED: [&[&str]; 2] = [&["Burger", "Fries", "Cola"], &["Taco", "Nachos"]];

pub fn tenant(slug: &str) -> Tenant {
    Tenant::builder(TenantId::new_v4(), slug.parse().unwrap()).build()
}

/// A fresh database with `orders` under the generated RLS policy.
pub fn database() -> TestDatabase {
    let db = tenancy_testing::test_database();
    db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())
        .unwrap();
    db
}

/// The r2d2 side: a pool of ONE connection, so the next user of a
/// connection is certain to be the test's check.
pub struct Fixture {
    pub db: TestDatabase,
    pub raw: Pool<ConnectionManager<PgConnection>>,
    pub pool: TenantPool,
    pub acme: Tenant,
    pub globex: Tenant,
}

/// [`database`], acme and globex seeded with [`SEED`] through the r2d2 pool.
pub fn fixture() -> Fixture {
    let db = database();
    let raw = Pool::builder()
        .max_size(1)
        .build(ConnectionManager::<PgConnection>::new(db.app_url()))
        .unwrap();
    let pool = TenantPool::new(raw.clone());
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    for (t, items) in [(&acme, SEED[0]), (&globex, SEED[1])] {
        pool.transaction(t, |tx| {
            for item in items {
                tx.insert(diesel::insert_into(orders::table).values(orders::item.eq(*item)))?;
            }
            Ok::<_, Error>(())
        })
        .unwrap();
    }
    Fixture {
        db,
        raw,
        pool,
        acme,
        globex,
    }
}

//! Code holding a legitimate tenant transaction tries to reach another
//! tenant: through transaction options, through raw SQL that leaves state on
//! the pooled connection for the next user, and through temporary tables
//! that shadow tenant tables. Each pool has ONE connection, so the next user
//! is certain to get the connection the attack ran on.
//!
//! The swap of the connection (`std::mem::swap`) is a compile-fail case:
//! `tests/ui/fail/no_connection_to_swap.rs`.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use common::{Order, Orders, assert_clean, fixture};
use sqlx::Connection as _;
use sqlx::{PgPool, Row};
use tenancy_core::TenantError;
use tenancy_core::rls::{Ident, TenantBinding, TxOptions, revoke_temporary_sql};
use tenancy_sqlx::{Error, Scoped, TenantPool};
use tenancy_testing::APP_ROLE;
use tenancy_testing::session::{fresh_session, session_state_sql};

#[tokio::test]
async fn options_cannot_replace_the_tenant_role_or_search_path() {
    let f = fixture(1).await;
    // The tenant setting itself, per transaction and for every transaction.
    let options = TxOptions::default()
        .setting("app.tenant_id", &f.globex.id().to_string())
        .unwrap();
    let err = f.pool.begin_with(&f.acme, &options).await.unwrap_err();
    assert!(
        matches!(err, Error::Tenant(TenantError::ReservedSetting { ref name }) if name == "app.tenant_id"),
        "{err}"
    );
    let pool = TenantPool::new(f.raw.clone())
        .with_binding(TenantBinding::default().with_tx_options(options));
    let err = pool.begin(&f.acme).await.unwrap_err();
    assert!(
        matches!(err, Error::Tenant(TenantError::ReservedSetting { .. })),
        "{err}"
    );
    // What changes identity or name resolution is refused when built.
    for name in [
        "role",
        "session_authorization",
        "search_path",
        "row_security",
    ] {
        let err = TxOptions::default().setting(name, "x").unwrap_err();
        assert!(err.to_string().contains(name), "{err}");
    }
    // A safe option still works, and the tenant is acme's.
    let options = TxOptions::default()
        .setting("statement_timeout", "5s")
        .unwrap();
    let mut tx = f.pool.begin_with(&f.acme, &options).await.unwrap();
    let rows: Vec<Order> = sqlx::query_as("SELECT * FROM orders")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
    assert!(rows.iter().all(|o| o.tenant_id == *f.acme.id().as_uuid()));
    tx.commit().await.unwrap();
    assert_clean(&f.raw).await;
}

/// Gives the app role `TEMPORARY` back, to test the walls behind the revoke.
fn grant_temporary(f: &common::Fixture) {
    f.db.admin_sql(&format!(
        "GRANT TEMPORARY ON DATABASE {} TO {APP_ROLE}",
        f.db.name()
    ))
    .unwrap();
}

/// The session state the next user of the pool's one connection sees
/// ([`tenancy_testing::session`]), and its backend pid. Simple protocol:
/// one message.
async fn session_state(raw: &PgPool) -> (String, i32) {
    let mut conn = raw.acquire().await.unwrap();
    let row = sqlx::raw_sql(sqlx::AssertSqlSafe(session_state_sql(
        "app.tenant_id",
        "orders",
    )))
    .fetch_one(&mut *conn)
    .await
    .unwrap();
    (row.get(0), row.get(1))
}

/// Raw SQL that ends the SDK's transaction and leaves session state behind.
fn leave_state_behind(other: &tenancy_core::Tenant) -> String {
    format!(
        "COMMIT; \
         SET app.tenant_id = '{}'; \
         SET search_path = pg_temp, public; \
         SET default_transaction_read_only = on; \
         LISTEN tenant_events; \
         SELECT pg_advisory_lock(42); \
         CREATE TEMP TABLE orders (LIKE public.orders); \
         BEGIN; DECLARE held CURSOR WITH HOLD FOR SELECT 1; COMMIT",
        other.id()
    )
}

#[tokio::test]
async fn session_state_left_by_raw_sql_is_reset_when_the_transaction_ends() {
    let f = fixture(1).await;
    // Both walls against temporary tables off: this test is about the reset.
    grant_temporary(&f);
    let (before, pid) = session_state(&f.raw).await;
    assert_eq!(before, fresh_session());
    for end_with_commit in [true, false] {
        let mut tx = f.pool.begin(&f.acme).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(leave_state_behind(&f.globex)))
            .execute(&mut tx)
            .await
            .unwrap();
        if end_with_commit {
            tx.commit().await.unwrap();
        } else {
            tx.rollback().await.unwrap();
        }
        let (after, pid_after) = session_state(&f.raw).await;
        assert_eq!(after, fresh_session(), "commit: {end_with_commit}");
        assert_eq!(pid_after, pid, "a reset connection is reused, not closed");
        assert_clean(&f.raw).await;
    }
}

#[tokio::test]
async fn a_raw_sql_transaction_dropped_without_commit_closes_its_connection() {
    let f = fixture(1).await;
    let pid = assert_clean(&f.raw).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "COMMIT; SET app.tenant_id = '{}'",
        f.globex.id()
    )))
    .execute(&mut tx)
    .await
    .unwrap();
    drop(tx);
    assert_ne!(
        assert_clean(&f.raw).await,
        pid,
        "a connection with unknown session state must be closed"
    );
}

#[tokio::test]
async fn prepared_statements_left_by_raw_sql_close_the_connection() {
    let f = fixture(1).await;
    let pid = assert_clean(&f.raw).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    sqlx::raw_sql("PREPARE squatter AS SELECT * FROM orders")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (state, pid_after) = session_state(&f.raw).await;
    assert_eq!(state, fresh_session());
    assert_ne!(pid_after, pid, "the prepared statement must not survive");
}

#[tokio::test]
async fn a_transaction_aborted_by_raw_sql_fails_to_commit_and_closes_its_connection() {
    let f = fixture(1).await;
    let pid = assert_clean(&f.raw).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    sqlx::raw_sql("SET search_path = pg_temp, public")
        .execute(&mut tx)
        .await
        .unwrap();
    sqlx::raw_sql("SELECT 1/0")
        .execute(&mut tx)
        .await
        .unwrap_err();
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::Database(_)), "{err}");
    assert_ne!(assert_clean(&f.raw).await, pid);
}

#[tokio::test]
async fn a_transaction_of_builders_only_keeps_its_connection_and_pays_no_reset() {
    let f = fixture(1).await;
    let pid = assert_clean(&f.raw).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let n = Scoped::<Orders>::select()
        .for_tenant(&f.acme)
        .count(&mut tx)
        .await
        .unwrap();
    assert_eq!(n, 3);
    assert!(format!("{tx:?}").contains("raw: false"), "{tx:?}");
    tx.commit().await.unwrap();
    assert_eq!(assert_clean(&f.raw).await, pid);
}

#[tokio::test]
async fn the_app_role_cannot_create_temporary_tables() {
    let f = fixture(1).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let err = sqlx::raw_sql("CREATE TEMP TABLE orders (LIKE public.orders)")
        .execute(&mut tx)
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("permission denied"),
        "TEMPORARY must be revoked: {err}"
    );
}

#[tokio::test]
async fn a_temporary_table_does_not_shadow_a_tenant_table() {
    let f = fixture(1).await;
    // The revoke off: this test is about the search path.
    grant_temporary(&f);
    // In the transaction that made it: the builders still reach the real table.
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    sqlx::raw_sql("CREATE TEMP TABLE orders (LIKE public.orders INCLUDING DEFAULTS)")
        .execute(&mut tx)
        .await
        .unwrap();
    Scoped::<Orders>::insert()
        .value("item", "Shake")
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap();
    let seen = Scoped::<Orders>::select()
        .for_tenant(&f.acme)
        .count(&mut tx)
        .await
        .unwrap();
    let in_temp: i64 = sqlx::query_scalar("SELECT count(*) FROM pg_temp.orders")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(
        (seen, in_temp),
        (4, 0),
        "the temporary table captured the query"
    );
    tx.commit().await.unwrap();

    // Planted past the SDK for a later transaction on the connection: a
    // temporary `orders` and a session path that lists pg_temp first.
    let mut conn = f.raw.acquire().await.unwrap();
    sqlx::raw_sql(
        "CREATE TEMP TABLE orders (LIKE public.orders INCLUDING DEFAULTS); \
         SET search_path = pg_temp, public",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    drop(conn);
    let mut tx = f.pool.begin(&f.globex).await.unwrap();
    Scoped::<Orders>::insert()
        .value("item", "Burrito")
        .for_tenant(&f.globex)
        .execute(&mut tx)
        .await
        .unwrap();
    let rows: Vec<Order> = Scoped::<Orders>::select()
        .for_tenant(&f.globex)
        .fetch_all(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let mut items: Vec<_> = rows.iter().map(|o| o.item.as_str()).collect();
    items.sort_unstable();
    assert_eq!(items, ["Burrito", "Nachos", "Taco"]);
    for (tenant, expected) in [(&f.acme, "4"), (&f.globex, "3")] {
        let real =
            f.db.admin_sql(&format!(
                "SELECT count(*) FROM public.orders WHERE tenant_id = '{}'",
                tenant.id()
            ))
            .unwrap();
        assert_eq!(real.trim(), expected);
    }
}

#[tokio::test]
async fn a_released_session_leaves_no_state_and_one_with_prepared_statements_is_closed() {
    let f = fixture(1).await;
    grant_temporary(&f);
    let (_, pid) = session_state(&f.raw).await;
    let mut session = f.pool.dangerous_session(&f.acme).await.unwrap();
    // A transaction left open, too: release must end it.
    let attack = format!(
        "{}; BEGIN",
        leave_state_behind(&f.globex).replacen("COMMIT; ", "", 1)
    );
    sqlx::raw_sql(sqlx::AssertSqlSafe(attack))
        .execute(&mut session)
        .await
        .unwrap();
    session.release().await.unwrap();
    let (after, pid_after) = session_state(&f.raw).await;
    assert_eq!(after, fresh_session());
    assert_eq!(pid_after, pid, "a reset session's connection is reused");

    let mut session = f.pool.dangerous_session(&f.acme).await.unwrap();
    sqlx::raw_sql("PREPARE squatter AS SELECT 1")
        .execute(&mut session)
        .await
        .unwrap();
    session.release().await.unwrap();
    let (after, pid_after) = session_state(&f.raw).await;
    assert_eq!(after, fresh_session());
    assert_ne!(pid_after, pid, "the prepared statement must not survive");
}

/// A checked macro query can still call a function that changes the session
/// (`set_config(.., false)`, session advisory locks): the checker proves
/// which rows it reads, not what it leaves behind. So a transaction that ran
/// one is reset when it ends, as after raw SQL.
#[cfg(feature = "macros")]
#[tokio::test]
async fn session_state_left_by_a_macro_query_is_reset_when_the_transaction_ends() {
    use tenancy_sqlx::macros::ScopedQuery;

    let f = fixture(1).await;
    let (before, pid) = session_state(&f.raw).await;
    assert_eq!(before, fresh_session());
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    // What `tenancy_sqlx::query!("SELECT set_config(...)")` expands to: no
    // table, so the checker accepts it.
    let sql = format!(
        "SELECT set_config('app.tenant_id', '{}', false), pg_advisory_lock(42)",
        f.globex.id()
    );
    ScopedQuery::__new(move |_tenant| sqlx::query(sqlx::AssertSqlSafe(sql)))
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let (after, pid_after) = session_state(&f.raw).await;
    assert_eq!(after, fresh_session());
    assert_eq!(pid_after, pid, "a reset connection is reused");
}

#[tokio::test]
async fn revoke_temporary_sql_takes_temporary_tables_from_the_app_role() {
    let f = fixture(1).await;
    grant_temporary(&f);
    // Checked when a session first creates a temporary table: use a new
    // session each time.
    let creates_temp_table = || async {
        let mut conn = sqlx::PgConnection::connect(f.db.app_url()).await.unwrap();
        sqlx::raw_sql("CREATE TEMP TABLE orders (id int)")
            .execute(&mut conn)
            .await
            .map(drop)
    };
    creates_temp_table().await.unwrap();
    f.db.admin_sql(&revoke_temporary_sql(
        &Ident::new(f.db.name()).unwrap(),
        &Ident::new(APP_ROLE).unwrap(),
    ))
    .unwrap();
    let err = creates_temp_table().await.unwrap_err();
    assert!(
        err.to_string()
            .contains("permission denied to create temporary tables"),
        "{err}"
    );
}

//! Cross-tenant admin access on real PostgreSQL: the admin role sees no
//! tenant's rows outside a session; a session (actor and reason, committed
//! to the trail first) sees every tenant or one, read-only unless writes
//! were allowed, and every row it writes is trailed. Each attempt around
//! it is tried with raw SQL, since the database is the wall.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use common::{assert_clean, fixture};
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;
use tenancy_core::rls::AdminSetup;
use tenancy_sqlx::admin::{AdminAccess, AdminPool};
use tenancy_testing::{APP_ROLE, TestDatabase};

const ADMIN: &str = "tenancy_admin_test";

/// The admin set up on `db`'s `orders`; a pool of one connection as the
/// admin role.
async fn admin(db: &TestDatabase) -> PgPool {
    db.admin_sql(&format!(
        "DO $$ BEGIN CREATE ROLE {ADMIN} LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ))
    .unwrap();
    db.admin_sql(&format!(
        "DO $$ BEGIN EXECUTE format('GRANT CONNECT ON DATABASE %I TO {ADMIN}', current_database()); END $$"
    ))
    .unwrap();
    let setup = AdminSetup::new(ADMIN).unwrap();
    db.owner_sql(&setup.schema_sql()).unwrap();
    db.owner_sql(&setup.table_sql("orders", "tenant_id").unwrap())
        .unwrap();
    PgPoolOptions::new()
        .max_connections(1)
        .connect(&db.app_url().replacen(APP_ROLE, ADMIN, 1))
        .await
        .unwrap()
}

fn access() -> AdminAccess {
    AdminAccess::new("jane@support", "ticket 4711: orders missing").unwrap()
}

async fn count(tx: impl sqlx::Executor<'_, Database = sqlx::Postgres>) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(tx)
        .await
        .unwrap()
}

#[tokio::test]
async fn outside_a_session_the_admin_role_sees_nothing_inside_one_every_tenant() {
    let f = fixture(2).await;
    let raw = admin(&f.db).await;
    assert_eq!(count(&raw).await, 0, "no session, no rows");
    // Not even with a tenant set, the way the application binds one.
    let mut conn = raw.acquire().await.unwrap();
    sqlx::query("SELECT set_config('app.tenant_id', $1, false)")
        .bind(f.acme.id().to_string())
        .execute(&mut *conn)
        .await
        .unwrap();
    assert_eq!(count(&mut *conn).await, 0);
    sqlx::query("RESET ALL").execute(&mut *conn).await.unwrap();
    drop(conn);

    let pool = AdminPool::new(raw.clone());
    let mut tx = pool.begin(&access()).await.unwrap();
    assert_eq!(count(&mut tx).await, 5, "acme's 3 and globex's 2");
    let session = tx.session();
    tx.commit().await.unwrap();
    let trail: (String, String, Option<String>, bool) = sqlx::query_as(
        "SELECT actor, reason, tenant, writes FROM tenancy_admin_sessions WHERE id = $1",
    )
    .bind(session)
    .fetch_one(&raw)
    .await
    .unwrap();
    assert_eq!(
        trail,
        (
            "jane@support".to_owned(),
            "ticket 4711: orders missing".to_owned(),
            None,
            false
        )
    );
    assert_eq!(
        count(&raw).await,
        0,
        "the session ended with its transaction"
    );
}

#[tokio::test]
async fn a_session_for_one_tenant_sees_only_it_whatever_the_tenant_setting_says() {
    let f = fixture(2).await;
    let pool = AdminPool::new(admin(&f.db).await);
    let mut tx = pool.begin(&access().tenant(&f.acme.id())).await.unwrap();
    assert_eq!(count(&mut tx).await, 3);
    sqlx::query("SELECT set_config('app.tenant_id', $1, true)")
        .bind(f.globex.id().to_string())
        .execute(&mut tx)
        .await
        .unwrap();
    let globex: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE tenant_id = $1")
        .bind(f.globex.id().as_uuid())
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(globex, 0);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_read_only_session_cannot_write_even_after_escaping_its_read_only_transaction() {
    let f = fixture(2).await;
    let raw = admin(&f.db).await;
    let pool = AdminPool::new(raw.clone());
    let mut tx = pool.begin(&access()).await.unwrap();
    let err = sqlx::query("UPDATE orders SET quantity = 9")
        .execute(&mut tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("read-only transaction"), "{err}");
    drop(tx);

    // A raw COMMIT and a new read-write transaction under the same
    // session: the policies still refuse every write.
    let mut tx = pool.begin(&access()).await.unwrap();
    let session = tx.session();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "COMMIT; BEGIN; SET LOCAL tenancy.admin_session = '{session}'"
    )))
    .execute(&mut tx)
    .await
    .unwrap();
    assert_eq!(count(&mut tx).await, 5, "the session still reads");
    for write in ["UPDATE orders SET quantity = 9", "DELETE FROM orders"] {
        let done = sqlx::query(write).execute(&mut tx).await.unwrap();
        assert_eq!(done.rows_affected(), 0, "{write}");
    }
    let err = sqlx::query("INSERT INTO orders (tenant_id, item) VALUES ($1, 'forged')")
        .bind(f.acme.id().as_uuid())
        .execute(&mut tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
    drop(tx);
    assert_eq!(
        f.db.admin_sql("SELECT count(*) FROM orders WHERE quantity = 9 OR item = 'forged'")
            .unwrap(),
        "0"
    );
}

#[tokio::test]
async fn writes_need_an_opt_in_stay_in_scope_and_every_row_is_trailed() {
    let f = fixture(2).await;
    let raw = admin(&f.db).await;
    let pool = AdminPool::new(raw.clone());
    let mut tx = pool
        .begin(&access().tenant(&f.acme.id()).allow_writes())
        .await
        .unwrap();
    let changed = sqlx::query("UPDATE orders SET quantity = 9")
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(changed.rows_affected(), 3, "acme's rows only");
    let session = tx.session();
    tx.commit().await.unwrap();
    let trailed: Vec<(String, String, Option<String>, i32, i32)> = sqlx::query_as(
        "SELECT table_name, operation, tenant, (old_row->>'quantity')::int, (new_row->>'quantity')::int
         FROM tenancy_admin_writes WHERE session_id = $1",
    )
    .bind(session)
    .fetch_all(&PgPool::connect(f.db.owner_url()).await.unwrap())
    .await
    .unwrap();
    assert_eq!(trailed.len(), 3);
    for (table, op, tenant, before, after) in trailed {
        assert_eq!(
            (table.as_str(), op.as_str(), tenant, before, after),
            (
                "public.orders",
                "UPDATE",
                Some(f.acme.id().to_string()),
                1,
                9
            )
        );
    }
    assert_eq!(
        f.db.admin_sql("SELECT count(*) FROM orders WHERE quantity = 9")
            .unwrap(),
        "3"
    );
    // Out of the session's tenant: refused.
    let mut tx = pool
        .begin(&access().tenant(&f.acme.id()).allow_writes())
        .await
        .unwrap();
    let err = sqlx::query("INSERT INTO orders (tenant_id, item) VALUES ($1, 'moved')")
        .bind(f.globex.id().as_uuid())
        .execute(&mut tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
}

#[tokio::test]
async fn a_session_row_from_the_reading_transaction_or_another_backend_does_not_count() {
    let f = fixture(2).await;
    let raw = admin(&f.db).await;
    // Opened and used in one transaction: a rollback would erase it.
    let mut conn = raw.acquire().await.unwrap();
    sqlx::raw_sql(
        "BEGIN; \
         WITH s AS (INSERT INTO tenancy_admin_sessions (actor, reason) \
                    VALUES ('eve', 'no trace please') RETURNING id) \
         SELECT set_config('tenancy.admin_session', (SELECT id FROM s)::text, true)",
    )
    .execute(&mut *conn)
    .await
    .unwrap();
    assert_eq!(
        count(&mut *conn).await,
        0,
        "a session in the reading transaction reads nothing"
    );
    sqlx::query("ROLLBACK").execute(&mut *conn).await.unwrap();
    drop(conn);

    // Someone else's committed session, borrowed on another connection.
    let pool = AdminPool::new(raw.clone());
    let tx = pool.begin(&access()).await.unwrap();
    let borrowed = tx.session();
    let other = PgPoolOptions::new()
        .max_connections(1)
        .connect(&f.db.app_url().replacen(APP_ROLE, ADMIN, 1))
        .await
        .unwrap();
    let mut conn = other.acquire().await.unwrap();
    sqlx::query("SELECT set_config('tenancy.admin_session', $1, false)")
        .bind(borrowed.to_string())
        .execute(&mut *conn)
        .await
        .unwrap();
    assert_eq!(count(&mut *conn).await, 0);
    drop(tx);
}

#[tokio::test]
async fn the_trail_is_append_only_and_the_app_role_never_reaches_it() {
    let f = fixture(2).await;
    let raw = admin(&f.db).await;
    let pool = AdminPool::new(raw.clone());
    pool.begin(&access()).await.unwrap().commit().await.unwrap();
    for change in [
        "UPDATE tenancy_admin_sessions SET actor = 'nobody'",
        "DELETE FROM tenancy_admin_sessions",
        "TRUNCATE tenancy_admin_sessions CASCADE",
    ] {
        let by_admin = sqlx::query(change).execute(&raw).await;
        assert!(by_admin.is_err(), "admin: {change}");
        let by_owner = f.db.owner_sql(change);
        assert!(by_owner.is_err(), "owner: {change}");
    }
    assert_eq!(
        f.db.admin_sql("SELECT count(*) FROM tenancy_admin_sessions")
            .unwrap(),
        "1"
    );
    // The application role: its tenant as before, no trail, and a session
    // id it sets changes nothing.
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    sqlx::query("SELECT set_config('tenancy.admin_session', '1', true)")
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(count(&mut tx).await, 3);
    // Whatever default privileges granted it, it sees no session.
    let sessions: Result<i64, _> =
        sqlx::query_scalar("SELECT count(*) FROM tenancy_admin_sessions")
            .fetch_one(&mut tx)
            .await;
    assert!(
        sessions
            .as_ref()
            .is_err_and(|e| e.to_string().contains("permission denied"))
            || sessions.as_ref().is_ok_and(|n| *n == 0),
        "{sessions:?}"
    );
    drop(tx);
    assert_clean(&f.raw).await;
}

#[tokio::test]
async fn a_pooled_admin_connection_carries_no_session_to_the_next_user() {
    let f = fixture(2).await;
    let raw = admin(&f.db).await;
    let pool = AdminPool::new(raw.clone());
    let mut tx = pool.begin(&access()).await.unwrap();
    let session = tx.session();
    // Raw SQL pins the session on the connection itself.
    sqlx::query("SELECT set_config('tenancy.admin_session', $1, false)")
        .bind(session.to_string())
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(count(&raw).await, 0, "the next user of the connection");
}

#[test]
fn an_actor_and_a_real_reason_are_required() {
    assert!(AdminAccess::new("  ", "ticket 4711: orders missing").is_err());
    assert!(AdminAccess::new("jane", "  short  ").is_err());
    let access = AdminAccess::new(" jane ", " ticket 4711 ").unwrap();
    assert_eq!(
        (
            access.actor(),
            access.reason(),
            access.scope(),
            access.writes()
        ),
        ("jane", "ticket 4711", None, false)
    );
}

async fn audit_codes(db: &TestDatabase) -> Vec<&'static str> {
    let pool = PgPool::connect(db.owner_url()).await.unwrap();
    let options = tenancy_sqlx::audit::AuditOptions::default().app_role(APP_ROLE);
    let mut codes = tenancy_sqlx::audit::audit(&pool, &options)
        .await
        .unwrap()
        .codes();
    codes.sort_unstable();
    codes
}

#[tokio::test]
async fn the_audit_accepts_admin_access_as_set_up_and_finds_each_way_it_breaks() {
    let f = fixture(2).await;
    let before = audit_codes(&f.db).await;
    let _admin = admin(&f.db).await;
    assert_eq!(
        audit_codes(&f.db).await,
        before,
        "the SDK's setup adds no finding"
    );

    // Each break alone, then repaired by running the table's setup again.
    let setup = AdminSetup::new(ADMIN).unwrap();
    let repair = setup.table_sql("orders", "tenant_id").unwrap();
    for (break_it, code) in [
        (
            "CREATE POLICY leak ON orders FOR SELECT TO tenancy_app \
             USING ((SELECT tenancy_admin_scope()) IN ('*', tenant_id::text))",
            "admin_policy_reaches_app",
        ),
        (
            "CREATE POLICY leak ON orders FOR SELECT TO PUBLIC \
             USING ((SELECT tenancy_admin_scope()) IN ('*', tenant_id::text))",
            "admin_policy_reaches_app",
        ),
        (
            "DROP TRIGGER tenancy_admin_trail ON orders",
            "admin_writes_untrailed",
        ),
        (
            "ALTER TABLE orders DISABLE TRIGGER tenancy_admin_trail",
            "admin_writes_untrailed",
        ),
        (
            "DROP POLICY tenancy_admin_held_delete ON orders",
            "admin_session_not_enforced",
        ),
        (
            "DROP POLICY tenancy_admin_held ON orders",
            "admin_session_not_enforced",
        ),
    ] {
        f.db.owner_sql(break_it).unwrap();
        let codes = audit_codes(&f.db).await;
        assert!(codes.contains(&code), "{break_it}: {codes:?}");
        f.db.owner_sql("DROP POLICY IF EXISTS leak ON orders")
            .unwrap();
        f.db.owner_sql(&repair).unwrap();
        assert_eq!(
            audit_codes(&f.db).await,
            before,
            "repaired after {break_it}"
        );
    }
}

#[tokio::test]
async fn the_audit_finds_an_admin_role_that_skips_the_trail() {
    let f = fixture(2).await;
    let role = "tenancy_admin_bypass";
    f.db.admin_sql(&format!(
        "DO $$ BEGIN CREATE ROLE {role} LOGIN BYPASSRLS; \
         EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    ))
    .unwrap();
    let setup = AdminSetup::new(role).unwrap();
    f.db.owner_sql(&setup.schema_sql()).unwrap();
    f.db.create_tenant_table("notes", "id int, body text")
        .unwrap();
    for table in ["orders", "notes"] {
        f.db.owner_sql(&setup.table_sql(table, "tenant_id").unwrap())
            .unwrap();
    }
    // Once for the role, however many tables name it.
    let codes = audit_codes(&f.db).await;
    assert_eq!(
        codes
            .iter()
            .filter(|c| **c == "admin_role_bypasses_trail")
            .count(),
        1,
        "{codes:?}"
    );
}

#[tokio::test]
async fn an_ended_admin_transaction_gives_its_connection_back_for_reuse() {
    let f = fixture(2).await;
    let raw = admin(&f.db).await; // one connection
    let pool = AdminPool::new(raw.clone());

    let mut tx = pool.begin(&access()).await.unwrap();
    let first = backend_pid(&mut tx).await;
    tx.rollback().await.unwrap();
    let mut tx = pool.begin(&access()).await.unwrap();
    assert_eq!(
        backend_pid(&mut tx).await,
        first,
        "a rollback keeps the connection"
    );
    tx.commit().await.unwrap();
    let mut tx = pool.begin(&access()).await.unwrap();
    assert_eq!(
        backend_pid(&mut tx).await,
        first,
        "a commit keeps the connection"
    );
    // Dropped without an end: closed, never reused with its session.
    drop(tx);
    let mut tx = pool.begin(&access()).await.unwrap();
    assert_ne!(backend_pid(&mut tx).await, first);
    tx.rollback().await.unwrap();
}

async fn backend_pid(tx: &mut tenancy_sqlx::admin::AdminTx) -> i32 {
    sqlx::query_scalar("SELECT pg_backend_pid()")
        .fetch_one(tx)
        .await
        .unwrap()
}

#[tokio::test]
async fn without_an_app_role_the_audit_still_finds_admin_policies_for_everyone() {
    let f = fixture(2).await;
    let _admin = admin(&f.db).await;
    let pool = PgPool::connect(f.db.owner_url()).await.unwrap();
    let codes = |pool: PgPool| async move {
        tenancy_sqlx::audit::audit(&pool, &tenancy_sqlx::audit::AuditOptions::default())
            .await
            .unwrap()
            .codes()
    };
    assert!(
        !codes(pool.clone())
            .await
            .contains(&"admin_policy_reaches_app")
    );
    f.db.owner_sql(
        "CREATE POLICY leak ON orders FOR SELECT TO PUBLIC \
         USING ((SELECT tenancy_admin_scope()) IN ('*', tenant_id::text))",
    )
    .unwrap();
    assert!(codes(pool).await.contains(&"admin_policy_reaches_app"));
}

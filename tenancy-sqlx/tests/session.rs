//! The opt-in session-level tenant mode.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use common::{assert_clean, fixture};

#[tokio::test]
async fn a_session_runs_every_statement_as_its_tenant_and_release_resets_it() {
    let f = fixture(1).await;
    let pid = assert_clean(&f.raw).await;
    let mut session = f.pool.dangerous_session(&f.globex).await.unwrap();
    for _ in 0..3 {
        // No transaction, no WHERE: still only globex's rows.
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
            .fetch_one(&mut session)
            .await
            .unwrap();
        assert_eq!(n, 2);
    }
    session.release().await.unwrap();
    assert_eq!(
        assert_clean(&f.raw).await,
        pid,
        "a released session returns its connection"
    );
}

#[tokio::test]
async fn a_session_dropped_without_release_closes_its_connection() {
    let f = fixture(1).await;
    let pid = assert_clean(&f.raw).await;
    let mut session = f.pool.dangerous_session(&f.acme).await.unwrap();
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(&mut session)
        .await
        .unwrap();
    assert_eq!(n, 3);
    drop(session);
    assert_ne!(
        assert_clean(&f.raw).await,
        pid,
        "the tenant-carrying connection must be closed"
    );
}

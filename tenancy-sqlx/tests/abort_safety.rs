//! A connection never returns to the pool inside a transaction or carrying a
//! tenant: not after an error, a cancelled future or a panic.
//! Each test uses a pool of ONE connection, so the "next user" is certain to
//! get the very connection the fault happened on.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use std::time::Duration;

use common::{Order, Orders, assert_clean, fixture};
use tenancy_core::rls::TxOptions;
use tenancy_sqlx::{Error, Scoped};
use tenancy_testing::cancel::{PollBudget, poll_at_most};

#[tokio::test]
async fn a_failing_begin_closes_the_connection_instead_of_returning_it() {
    let f = fixture(1).await;
    let pid_before = assert_clean(&f.raw).await;
    // BEGIN succeeds, the SET LOCAL after it fails: the transaction is aborted.
    let bad = TxOptions::default()
        .setting("statement_timeout", "not a duration")
        .unwrap();
    let err = f.pool.begin_with(&f.acme, &bad).await.unwrap_err();
    assert!(matches!(err, Error::Database(_)), "{err}");
    let pid_after = assert_clean(&f.raw).await;
    assert_ne!(
        pid_before, pid_after,
        "the broken connection must be closed, not reused"
    );
}

#[tokio::test]
async fn cancelling_begin_at_any_point_leaves_the_pool_clean() {
    let f = fixture(1).await;
    let (mut finished, mut cancelled) = (0, 0);
    for i in 0..150_usize {
        // Every fourth begin runs to completion; the others are dropped after
        // 1..=8 polls (I/O progresses in between): a cancellation at a
        // different point of its state machine each time (acquire, send,
        // wait for the reply, ...). The future, and whatever connection it
        // holds, is dropped before the pool is checked.
        let budget = PollBudget::cycle(i, 4, 8);
        match poll_at_most(f.pool.begin(&f.acme), budget).await {
            Some(tx) => {
                drop(tx.unwrap());
                finished += 1;
            }
            None => cancelled += 1,
        }
        assert_clean(&f.raw).await;
    }
    eprintln!("begin: {finished} finished, {cancelled} cancelled");
    assert!(
        cancelled > 0,
        "no begin was cancelled: the test exercised nothing"
    );
    assert!(finished >= 150 / 4, "a begin that ran to completion failed");
}

#[tokio::test]
async fn cancelling_a_query_mid_transaction_rolls_back() {
    let f = fixture(1).await;
    let outcome = tokio::time::timeout(Duration::from_millis(50), async {
        let mut tx = f.pool.begin(&f.acme).await.unwrap();
        Scoped::<Orders>::insert()
            .value("item", "Ghost")
            .for_tenant(&f.acme)
            .execute(&mut tx)
            .await
            .unwrap();
        sqlx::query("SELECT pg_sleep(0.3)")
            .execute(&mut tx)
            .await
            .unwrap();
        tx.commit().await.unwrap();
    })
    .await;
    assert!(
        outcome.is_err(),
        "the timeout should have cancelled the transaction"
    );
    assert_clean(&f.raw).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let n = Scoped::<Orders>::select()
        .where_eq("item", "Ghost")
        .for_tenant(&f.acme)
        .count(&mut tx)
        .await
        .unwrap();
    assert_eq!(
        n, 0,
        "the cancelled transaction's insert must not be committed"
    );
}

#[tokio::test]
async fn a_panic_inside_a_transaction_rolls_back() {
    let f = fixture(1).await;
    let pool = f.pool.clone();
    let acme = f.acme.clone();
    let joined = tokio::spawn(async move {
        let mut tx = pool.begin(&acme).await.unwrap();
        Scoped::<Orders>::insert()
            .value("item", "Panic")
            .for_tenant(&acme)
            .execute(&mut tx)
            .await
            .unwrap();
        panic!("handler bug while the transaction is open");
    })
    .await;
    assert!(joined.unwrap_err().is_panic());
    assert_clean(&f.raw).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let rows: Vec<Order> = Scoped::<Orders>::select()
        .for_tenant(&f.acme)
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(rows.len(), 3);
}

#[tokio::test]
async fn a_statement_error_then_drop_leaves_the_pool_clean() {
    let f = fixture(1).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let err = sqlx::query("SELECT 1/0")
        .execute(&mut tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("division by zero"));
    drop(tx);
    assert_clean(&f.raw).await;

    // Committing an aborted transaction reports it and still cleans up.
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let _ = sqlx::query("SELECT 1/0")
        .execute(&mut tx)
        .await
        .unwrap_err();
    let _ = tx.commit().await;
    assert_clean(&f.raw).await;
}

#[tokio::test]
async fn rollback_discards_and_cleans() {
    let f = fixture(1).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    Scoped::<Orders>::delete()
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    assert_clean(&f.raw).await;
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    assert_eq!(
        Scoped::<Orders>::select()
            .for_tenant(&f.acme)
            .count(&mut tx)
            .await
            .unwrap(),
        3
    );
}

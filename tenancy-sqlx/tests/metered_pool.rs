//! A metered pool reports every transaction once, with its tenant, outcome,
//! time and the rows it wrote, counted by PostgreSQL itself: exact on a
//! reused connection (where the server's per-transaction counts still hold
//! the previous transactions'), through raw SQL and triggers alike, and
//! never charged to another tenant.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Orders, assert_clean, fixture};
use tenancy_sqlx::{Error, Scoped, TenantPool, TxMeter, TxOutcome, TxReport};

/// What the observer saw: `(tenant slug, outcome, rows written, elapsed)`.
type Seen = Arc<Mutex<Vec<(String, TxOutcome, Option<u64>, Duration)>>>;

fn recording(tables: &[&str]) -> (TxMeter, Seen) {
    let seen = Seen::default();
    let log = seen.clone();
    let meter = TxMeter::new(move |r: &TxReport<'_>| {
        log.lock().unwrap().push((
            r.tenant.slug().to_string(),
            r.outcome,
            r.rows_written,
            r.elapsed,
        ));
    });
    let meter = if tables.is_empty() {
        meter
    } else {
        meter.rows_written_in(tables).unwrap()
    };
    (meter, seen)
}

/// The `(slug, outcome, rows)` seen since the last call.
fn drain(seen: &Seen) -> Vec<(String, TxOutcome, Option<u64>)> {
    seen.lock()
        .unwrap()
        .drain(..)
        .map(|(slug, outcome, rows, _)| (slug, outcome, rows))
        .collect()
}

fn one(slug: &str, outcome: TxOutcome, rows: Option<u64>) -> Vec<(String, TxOutcome, Option<u64>)> {
    vec![(slug.to_owned(), outcome, rows)]
}

#[tokio::test]
async fn every_end_is_reported_once_with_its_tenant_outcome_and_time() {
    let f = fixture(1).await;
    let (meter, seen) = recording(&[]);
    let pool = f.pool.clone().metered(meter);

    let mut tx = pool.begin(&f.acme).await.unwrap();
    sqlx::query("SELECT pg_sleep(0.03)")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    let elapsed = seen.lock().unwrap()[0].3;
    assert!(elapsed >= Duration::from_millis(30), "{elapsed:?}");
    assert_eq!(drain(&seen), one("acme", TxOutcome::Committed, None));

    pool.begin(&f.globex)
        .await
        .unwrap()
        .rollback()
        .await
        .unwrap();
    assert_eq!(drain(&seen), one("globex", TxOutcome::RolledBack, None));

    drop(pool.begin(&f.acme).await.unwrap());
    assert_eq!(drain(&seen), one("acme", TxOutcome::Abandoned, None));

    // A rollback after raw SQL goes through the session reset.
    let mut tx = pool.begin(&f.globex).await.unwrap();
    sqlx::query("SELECT 1").execute(&mut tx).await.unwrap();
    tx.rollback().await.unwrap();
    assert_eq!(drain(&seen), one("globex", TxOutcome::RolledBack, None));

    // The unmetered pool over the same connections reports nothing.
    f.pool.begin(&f.acme).await.unwrap().commit().await.unwrap();
    assert!(drain(&seen).is_empty());
    assert_clean(&f.raw).await;
}

#[tokio::test]
async fn rows_written_are_this_transactions_alone_on_a_reused_connection() {
    // One connection: every transaction runs where the previous ones left
    // their not yet flushed statistics.
    let f = fixture(1).await;
    let (meter, seen) = recording(&["orders"]);
    let pool = f.pool.clone().metered(meter);
    let pid = assert_clean(&f.raw).await;

    let mut written = Vec::new();
    for round in 0..3 {
        let mut tx = pool.begin(&f.acme).await.unwrap();
        let inserted =
            sqlx::query("INSERT INTO orders (item) SELECT 'Pie' FROM generate_series(1, 3)")
                .execute(&mut tx)
                .await
                .unwrap()
                .rows_affected();
        let updated = Scoped::<Orders>::update()
            .set("quantity", 2)
            .where_eq("item", "Pie")
            .for_tenant(&f.acme)
            .execute(&mut tx)
            .await
            .unwrap();
        let deleted = sqlx::query("DELETE FROM orders WHERE item = 'Burger'")
            .execute(&mut tx)
            .await
            .unwrap()
            .rows_affected();
        let read: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert!(read > 0);
        tx.commit().await.unwrap();
        written.push(inserted + updated + deleted);
        // globex wrote nothing: none of acme's rows are charged to it.
        pool.begin(&f.globex).await.unwrap().commit().await.unwrap();
        assert_eq!(
            drain(&seen),
            [
                (
                    "acme".to_owned(),
                    TxOutcome::Committed,
                    Some(written[round])
                ),
                ("globex".to_owned(), TxOutcome::Committed, Some(0)),
            ]
        );
    }
    // 3 inserted, every Pie so far updated, the one Burger deleted once.
    assert_eq!(written, [3 + 3 + 1, 3 + 6, 3 + 9]);

    // Rows written and rolled back are neither reported nor charged to the
    // next transaction.
    let mut tx = pool.begin(&f.acme).await.unwrap();
    sqlx::query("DELETE FROM orders")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.rollback().await.unwrap();
    let mut tx = pool.begin(&f.acme).await.unwrap();
    Scoped::<Orders>::insert()
        .value("item", "Soup")
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(
        drain(&seen),
        [
            ("acme".to_owned(), TxOutcome::RolledBack, None),
            ("acme".to_owned(), TxOutcome::Committed, Some(1)),
        ]
    );
    assert_eq!(
        assert_clean(&f.raw).await,
        pid,
        "a metered commit keeps the connection"
    );
}

#[tokio::test]
async fn rows_written_by_a_trigger_count_and_unnamed_tables_do_not() {
    let f = fixture(2).await;
    f.db.owner_sql(
        "CREATE TABLE order_log (tenant_id uuid NOT NULL DEFAULT current_setting('app.tenant_id')::uuid, item text);
         ALTER TABLE order_log ENABLE ROW LEVEL SECURITY;
         CREATE POLICY own ON order_log USING (tenant_id = current_setting('app.tenant_id')::uuid);
         GRANT SELECT, INSERT ON order_log TO PUBLIC;
         CREATE TABLE scratch (n int); GRANT ALL ON scratch TO PUBLIC;
         CREATE FUNCTION log_order() RETURNS trigger LANGUAGE plpgsql AS
           $$ BEGIN INSERT INTO order_log (item) VALUES (NEW.item); RETURN NEW; END $$;
         CREATE TRIGGER log_order AFTER INSERT ON orders FOR EACH ROW EXECUTE FUNCTION log_order();",
    )
    .unwrap();
    let (meter, seen) = recording(&["orders", "order_log"]);
    let pool = f.pool.clone().metered(meter);
    let mut tx = pool.begin(&f.globex).await.unwrap();
    sqlx::query("INSERT INTO orders (item) VALUES ('Taco'), ('Salsa')")
        .execute(&mut tx)
        .await
        .unwrap();
    sqlx::query("INSERT INTO scratch SELECT generate_series(1, 50)")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(drain(&seen), one("globex", TxOutcome::Committed, Some(4)));
}

#[tokio::test]
async fn a_table_that_does_not_resolve_makes_the_rows_unknown_never_a_guess() {
    let f = fixture(1).await;
    let (meter, seen) = recording(&["orders", "no_such_table"]);
    let pool = f.pool.clone().metered(meter);
    let mut tx = pool.begin(&f.acme).await.unwrap();
    sqlx::query("INSERT INTO orders (item) VALUES ('Pie')")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(drain(&seen), one("acme", TxOutcome::Committed, None));
    let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE item = 'Pie'")
        .fetch_one(&mut pool.begin(&f.acme).await.unwrap())
        .await
        .unwrap();
    assert_eq!(n, 1, "the commit itself went through");
    assert_clean(&f.raw).await;
}

#[tokio::test]
async fn a_raw_commit_inside_makes_the_rows_unknown() {
    let f = fixture(1).await;
    let (meter, seen) = recording(&["orders"]);
    let pool = f.pool.clone().metered(meter);
    let mut tx = pool.begin(&f.acme).await.unwrap();
    sqlx::raw_sql("INSERT INTO orders (item) VALUES ('Pie'); COMMIT; BEGIN")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(drain(&seen), one("acme", TxOutcome::Committed, None));
    assert_clean(&f.raw).await;
}

#[tokio::test]
async fn committing_an_aborted_transaction_fails_and_is_reported_as_failed() {
    let f = fixture(1).await;
    let (meter, seen) = recording(&["orders"]);
    let pool = f.pool.clone().metered(meter);
    let mut tx = pool.begin(&f.acme).await.unwrap();
    Scoped::<Orders>::insert()
        .value("item", "Pie")
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await
        .unwrap();
    let failed = Scoped::<Orders>::insert()
        .value("quantity", "not a number")
        .for_tenant(&f.acme)
        .execute(&mut tx)
        .await;
    assert!(failed.is_err());
    let err = tx.commit().await.unwrap_err();
    assert!(matches!(err, Error::Database(_)), "{err}");
    assert_eq!(drain(&seen), one("acme", TxOutcome::Failed, None));
    assert_clean(&f.raw).await;
    let pies: i64 = Scoped::<Orders>::select()
        .where_eq("item", "Pie")
        .for_tenant(&f.acme)
        .count(&mut pool.begin(&f.acme).await.unwrap())
        .await
        .unwrap();
    assert_eq!(pies, 0, "nothing of the aborted transaction was committed");
}

#[tokio::test]
async fn a_metered_pool_still_binds_every_transaction_to_its_tenant() {
    let f = fixture(2).await;
    let (meter, _seen) = recording(&["orders"]);
    let pool: TenantPool = f.pool.clone().metered(meter);
    for (tenant, items) in [(&f.acme, 3), (&f.globex, 2)] {
        let mut tx = pool.begin(tenant).await.unwrap();
        let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders")
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert_eq!(n, items);
        // The meter's setting is the SDK's, not a way to another tenant.
        let setting: String = sqlx::query_scalar("SELECT current_setting('app.tenant_id')")
            .fetch_one(&mut tx)
            .await
            .unwrap();
        assert_eq!(setting, tenant.id_ref().to_string());
        tx.commit().await.unwrap();
    }
}

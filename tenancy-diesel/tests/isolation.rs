//! tenancy-diesel on a real PostgreSQL, as the unprivileged app role.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use diesel::connection::SimpleConnection;
use diesel::prelude::*;

mod common;
use common::{Fixture, SessionState, fixture, fresh_session, orders, session_state_sql};
use diesel::sql_types::{Nullable, Text, Uuid as SqlUuid};
use tenancy_core::rls::TxOptions;
use tenancy_core::{TenantContext, TenantError};
use tenancy_diesel::{Error, ForTenantDsl};
use uuid::Uuid;

#[derive(QueryableByName)]
struct Setting {
    #[diesel(sql_type = Nullable<Text>)]
    setting: Option<String>,
}

#[derive(QueryableByName)]
struct Owner {
    #[diesel(sql_type = SqlUuid)]
    tenant_id: Uuid,
}

/// The pooled connection, seen from outside (`pg_stat_activity`) and inside:
/// idle (no open or aborted transaction), no tenant setting, no rows.
/// Returns its backend pid.
fn assert_clean(f: &Fixture) -> i32 {
    // Checked out first: after a discarded connection, r2d2 opens the next
    // one in the background, and `get` waits for it.
    let mut conn = f.raw.get().unwrap();
    let state =
        f.db.admin_sql(&format!(
            "SELECT state FROM pg_stat_activity WHERE usename = 'tenancy_app' AND datname = '{}'",
            f.db.name()
        ))
        .unwrap();
    assert_eq!(
        state, "idle",
        "the pooled connection is not idle: {state:?}"
    );
    let setting: Setting =
        diesel::sql_query("SELECT current_setting('app.tenant_id', true) AS setting")
            .get_result(&mut conn)
            .unwrap();
    assert!(
        setting.setting.as_deref().unwrap_or("").is_empty(),
        "connection carries {:?}",
        setting.setting
    );
    let visible: i64 = orders::table.count().get_result(&mut conn).unwrap();
    assert_eq!(visible, 0, "a query without a tenant saw rows");
    diesel::select(diesel::dsl::sql::<diesel::sql_types::Integer>(
        "pg_backend_pid()",
    ))
    .get_result(&mut conn)
    .unwrap()
}

#[test]
fn each_tenant_sees_exactly_its_rows_via_builder_and_sql_query() {
    let f = fixture();
    for (t, want) in [(&f.acme, 3), (&f.globex, 2)] {
        let (built, raw) = f
            .pool
            .transaction(t, |tx| {
                let tenant = tx.tenant().clone();
                let built: Vec<(Uuid, String)> = tx.fetch_all(
                    orders::table
                        .for_tenant(&tenant)
                        .select((orders::tenant_id, orders::item)),
                )?;
                // The Friday-night bug, in diesel: raw SQL without WHERE.
                let raw: Vec<Owner> = diesel::sql_query("SELECT tenant_id FROM orders")
                    .load(tx.dangerous_raw_connection())?;
                Ok::<_, Error>((built, raw))
            })
            .unwrap();
        assert_eq!(built.len(), want);
        assert_eq!(raw.len(), want, "RLS alone must filter the raw query");
        assert!(built.iter().all(|(owner, _)| owner == t.id().as_uuid()));
        assert!(raw.iter().all(|o| o.tenant_id == *t.id().as_uuid()));
    }
}

#[test]
fn writes_cannot_reach_another_tenant() {
    let f = fixture();
    let theirs: Uuid = f
        .pool
        .transaction(&f.globex, |tx| {
            let t = tx.tenant().clone();
            tx.fetch_optional(orders::table.for_tenant(&t).select(orders::id))
                .map(Option::unwrap)
        })
        .unwrap();
    let (updated, deleted) = f
        .pool
        .transaction(&f.acme, |tx| {
            let t = tx.tenant().clone();
            let updated = tx.execute_scoped(
                diesel::update(orders::table)
                    .set(orders::quantity.eq(99))
                    .for_tenant(&t)
                    .filter(orders::id.eq(theirs)),
            )?;
            let deleted = tx.execute_scoped(
                diesel::delete(orders::table)
                    .for_tenant(&t)
                    .filter(orders::id.eq(theirs)),
            )?;
            Ok::<_, Error>((updated, deleted))
        })
        .unwrap();
    assert_eq!((updated, deleted), (0, 0));

    let globex = *f.globex.id().as_uuid();
    let stolen = move || {
        diesel::insert_into(orders::table)
            .values((orders::tenant_id.eq(globex), orders::item.eq("Stolen")))
    };
    // The SDK refuses a write that names the tenant column ...
    let planted = f.pool.transaction(&f.acme, |tx| tx.insert(stolen()));
    assert!(
        matches!(
            planted,
            Err(Error::TenantColumn {
                column: "tenant_id"
            })
        ),
        "{planted:?}"
    );
    // ... and past the SDK, row-level security refuses it.
    let planted = f.pool.transaction(&f.acme, |tx| {
        Ok::<_, Error>(stolen().execute(tx.dangerous_raw_connection())?)
    });
    assert!(
        planted
            .unwrap_err()
            .to_string()
            .contains("row-level security")
    );
    let moved = f.pool.transaction(&f.acme, |tx| {
        diesel::sql_query("UPDATE orders SET tenant_id = $1")
            .bind::<SqlUuid, _>(f.globex.id().as_uuid())
            .execute(tx.dangerous_raw_connection())
            .map_err(Error::from)
    });
    assert!(
        moved
            .unwrap_err()
            .to_string()
            .contains("row-level security")
    );

    let globex_rows: Vec<i32> = f
        .pool
        .transaction(&f.globex, |tx| {
            let t = tx.tenant().clone();
            tx.fetch_all(orders::table.for_tenant(&t).select(orders::quantity))
        })
        .unwrap();
    assert_eq!(globex_rows, vec![1, 1], "globex's rows are untouched");
}

#[test]
fn no_tenant_means_no_rows_and_no_writes() {
    let f = fixture();
    let mut conn = f.raw.get().unwrap();
    assert_eq!(
        orders::table.count().get_result::<i64>(&mut conn).unwrap(),
        0
    );
    let err = diesel::insert_into(orders::table)
        .values(orders::item.eq("x"))
        .execute(&mut conn)
        .unwrap_err();
    assert!(err.to_string().contains("row-level security"), "{err}");
}

#[test]
fn connections_come_back_clean_after_commit_error_failed_begin_and_panic() {
    let f = fixture();
    let pid = assert_clean(&f);

    // An error returned by the closure: rolled back.
    let err = f.pool.transaction(&f.acme, |tx| {
        tx.insert(diesel::insert_into(orders::table).values(orders::item.eq("Ghost")))?;
        Err::<(), _>(Error::Tenant(TenantError::Missing))
    });
    assert!(err.is_err());
    assert_eq!(assert_clean(&f), pid);

    // A statement error: the transaction is aborted, then rolled back.
    let err = f.pool.transaction(&f.acme, |tx| {
        diesel::sql_query("SELECT 1/0")
            .execute(tx.dangerous_raw_connection())
            .map_err(Error::from)
    });
    assert!(err.unwrap_err().to_string().contains("division by zero"));
    assert_eq!(assert_clean(&f), pid);

    // BEGIN runs, the SET LOCAL after it fails: rolled back before returning.
    let bad = f.pool.clone().with_binding(
        tenancy_core::rls::TenantBinding::default().with_tx_options(
            TxOptions::default()
                .setting("statement_timeout", "not a duration")
                .unwrap(),
        ),
    );
    let err = bad.transaction(&f.acme, |_| Ok::<_, Error>(()));
    assert!(matches!(err, Err(Error::Database(_))), "{err:?}");
    assert_eq!(assert_clean(&f), pid);

    // A panic inside: the pool throws the connection away.
    let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let _ = f.pool.transaction(&f.acme, |tx| {
            tx.insert(diesel::insert_into(orders::table).values(orders::item.eq("Panic")))
                .unwrap();
            panic!("handler bug inside the transaction");
            #[allow(unreachable_code)]
            Ok::<_, Error>(())
        });
    }));
    assert!(panicked.is_err());
    assert_ne!(
        assert_clean(&f),
        pid,
        "the connection a panic left must not be reused"
    );

    let items: Vec<String> = f
        .pool
        .transaction(&f.acme, |tx| {
            let t = tx.tenant().clone();
            tx.fetch_all(orders::table.for_tenant(&t).select(orders::item))
        })
        .unwrap();
    assert_eq!(items.len(), 3, "no ghost, no panic row: {items:?}");
}

#[test]
fn a_query_scoped_to_another_tenant_is_refused() {
    let f = fixture();
    let err = f
        .pool
        .transaction(&f.acme, |tx| {
            tx.fetch_all::<Uuid, _>(orders::table.for_tenant(&f.globex).select(orders::id))
        })
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Tenant(tenancy_core::TenantError::Mismatch { .. })
        ),
        "{err}"
    );
}

#[test]
fn transaction_current_takes_the_context_and_fails_closed_without_one() {
    let f = fixture();
    let err = f
        .pool
        .transaction_current(|_| Ok::<_, Error>(()))
        .unwrap_err();
    assert!(matches!(err, Error::Tenant(TenantError::Missing)));
    let n = TenantContext::sync_scope(f.globex.clone(), || {
        f.pool.transaction_current(|tx| {
            let t = tx.tenant().clone();
            tx.fetch_all::<Uuid, _>(orders::table.for_tenant(&t).select(orders::id))
                .map(|v| v.len())
        })
    })
    .unwrap();
    assert_eq!(n, 2);
}

fn session_state(f: &Fixture) -> SessionState {
    let mut conn = f.raw.get().unwrap();
    diesel::sql_query(session_state_sql())
        .get_result(&mut conn)
        .unwrap()
}

#[test]
fn session_state_left_by_raw_sql_is_reset_when_the_transaction_ends() {
    let f = fixture();
    let before = session_state(&f);
    assert_eq!(before.state, fresh_session());
    // Session-level SETs inside the transaction outlive its COMMIT.
    let attack = format!(
        "SET app.tenant_id = '{}'; SET search_path = pg_temp, public; \
         SET default_transaction_read_only = on; LISTEN tenant_events; SELECT pg_advisory_lock(42)",
        f.globex.id()
    );
    for fail in [false, true] {
        let result = f.pool.transaction(&f.acme, |tx| {
            tx.dangerous_raw_connection().batch_execute(&attack)?;
            if fail {
                return Err(Error::Database(diesel::result::Error::RollbackTransaction));
            }
            Ok(())
        });
        assert_eq!(result.is_err(), fail, "{result:?}");
        let after = session_state(&f);
        assert_eq!(after.state, fresh_session(), "failed: {fail}");
        assert_eq!(after.pid, before.pid, "a reset connection is reused");
    }
}

#[test]
fn a_transaction_ended_by_raw_sql_fails_and_discards_the_connection() {
    let f = fixture();
    let before = session_state(&f);
    let result = f.pool.transaction(&f.acme, |tx| {
        tx.dangerous_raw_connection()
            .batch_execute(&format!("COMMIT; SET app.tenant_id = '{}'", f.globex.id()))?;
        Ok::<_, Error>(())
    });
    assert!(
        matches!(
            result,
            Err(Error::Database(diesel::result::Error::NotInTransaction))
        ),
        "{result:?}"
    );
    let after = session_state(&f);
    assert_eq!(after.state, fresh_session());
    assert_ne!(after.pid, before.pid);
}

#[test]
fn prepared_statements_left_by_raw_sql_discard_the_connection() {
    let f = fixture();
    let before = session_state(&f);
    let err = f
        .pool
        .transaction(&f.acme, |tx| {
            tx.dangerous_raw_connection()
                .batch_execute("PREPARE squatter AS SELECT * FROM orders")?;
            Ok::<_, Error>(())
        })
        .unwrap_err();
    assert!(err.to_string().contains("prepared statements"), "{err}");
    let after = session_state(&f);
    assert_eq!(after.state, fresh_session());
    assert_ne!(
        after.pid, before.pid,
        "the prepared statement must not survive"
    );
}

#[test]
fn a_connection_swapped_in_through_raw_connection_never_reaches_the_pool() {
    let f = fixture();
    for begin_it in [false, true] {
        // An administrator's connection, which bypasses row-level security.
        let mut admin = PgConnection::establish(f.db.admin_url()).unwrap();
        if begin_it {
            // Dressed up as the tenant's transaction, so COMMIT succeeds.
            admin
                .batch_execute(&format!(
                    "BEGIN; SET LOCAL app.tenant_id = '{}'",
                    f.acme.id()
                ))
                .unwrap();
            diesel::connection::AnsiTransactionManager::begin_transaction_sql(
                &mut admin, "SELECT 1",
            )
            .unwrap();
        }
        let _ = f.pool.transaction(&f.acme, |tx| {
            std::mem::swap(tx.dangerous_raw_connection(), &mut admin);
            Ok::<_, Error>(())
        });
        // `admin` now holds the tenant's connection; closing it ends its
        // transaction.
        drop(admin);
        let next = session_state(&f);
        assert_eq!(
            next.state,
            fresh_session(),
            "the pool handed out the swapped-in connection (begun: {begin_it})"
        );
    }
}

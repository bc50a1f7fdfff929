//! The activity trail: written with the change, rolled back with it, read per
//! tenant, append-only for the application role.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use common::fixture;
use tenancy_sqlx::trail::ActivityTrail;
use tenancy_testing::APP_ROLE;

#[tokio::test]
async fn entries_live_and_die_with_their_transaction_and_stay_with_their_tenant() {
    let f = fixture(2).await;
    let trail = ActivityTrail::new();
    f.db.owner_sql(&trail.create_table_sql(Some(APP_ROLE)).unwrap())
        .unwrap();

    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    sqlx::query("UPDATE orders SET quantity = 5 WHERE item = 'Burger'")
        .execute(&mut tx)
        .await
        .unwrap();
    trail
        .record(&mut tx, "alice", "order.update", "Burger")
        .await
        .unwrap();
    tx.commit().await.unwrap();

    let mut tx = f.pool.begin(&f.globex).await.unwrap();
    trail
        .record(&mut tx, "bob", "order.delete", "Taco")
        .await
        .unwrap();
    tx.rollback().await.unwrap(); // the change did not happen: no entry

    let entries = |t| {
        let pool = f.pool.clone();
        async move {
            let mut tx = pool.begin(t).await.unwrap();
            let rows: Vec<(String, String, String)> =
                sqlx::query_as("SELECT actor, action, target FROM tenancy_activity_log")
                    .fetch_all(&mut tx)
                    .await
                    .unwrap();
            tx.rollback().await.unwrap();
            rows
        }
    };
    assert_eq!(
        entries(&f.acme).await,
        [("alice".into(), "order.update".into(), "Burger".into())]
    );
    assert!(entries(&f.globex).await.is_empty());
    assert_eq!(
        f.db.admin_sql("SELECT count(*) FROM tenancy_activity_log")
            .unwrap(),
        "1"
    );

    // Append-only: the application cannot rewrite history.
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let err = sqlx::query("UPDATE tenancy_activity_log SET actor = 'mallory'")
        .execute(&mut tx)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("permission denied"), "{err}");
}

#[tokio::test]
async fn an_impersonated_action_names_the_staff_member_in_the_tenants_own_trail() {
    let f = fixture(2).await;
    let trail = ActivityTrail::new();
    f.db.owner_sql(&trail.create_table_sql(Some(APP_ROLE)).unwrap())
        .unwrap();
    // The tenant layer marks the tenant of an impersonation token so.
    let acting = f.acme.impersonated("jane@support");
    for (tenant, actor) in [(&acting, "alice"), (&f.acme, "alice")] {
        let mut tx = f.pool.begin(tenant).await.unwrap();
        trail
            .record(&mut tx, actor, "order.update", "Burger")
            .await
            .unwrap();
        tx.commit().await.unwrap();
    }
    // Read by the tenant itself, through row-level security.
    let mut tx = f.pool.begin(&f.acme).await.unwrap();
    let rows: Vec<(String, Option<String>)> =
        sqlx::query_as("SELECT actor, impersonated_by FROM tenancy_activity_log ORDER BY id")
            .fetch_all(&mut tx)
            .await
            .unwrap();
    assert_eq!(
        rows,
        [
            ("alice".to_owned(), Some("jane@support".to_owned())),
            ("alice".to_owned(), None)
        ]
    );
    // The mark is the request's, never the tenant's: it does not survive
    // a round trip through JSON or a builder.
    let json = serde_json::to_string(&acting).unwrap();
    let back: tenancy_core::Tenant = serde_json::from_str(&json).unwrap();
    assert_eq!(back.impersonated_by(), None);
    assert_eq!(acting.to_builder().build().impersonated_by(), None);
    assert_eq!(acting.impersonated_by(), Some("jane@support"));
}

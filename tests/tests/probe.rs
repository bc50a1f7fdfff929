//! The cross-tenant probes can fail: on a table without row-level security
//! they report every row they reached; under the generated policy, none.

#![allow(clippy::unwrap_used)] // test helpers

use tenancy_testing::fixtures::tenant_table_sql;
use tenancy_testing::probe::{HttpProbe, cross_tenant_sql};

const ACME: &str = "67e55044-10b1-426f-9247-bb680e5fe0c8";
const GLOBEX: &str = "9b2f1b3c-0c43-4a58-8d1e-6f1c7a1d2e3f";

fn seed(db: &tenancy_testing::TestDatabase, table: &str) {
    // As the administrator: FORCE binds the owner, and fixtures need both tenants.
    db.admin_sql(&format!(
        "INSERT INTO {table} (tenant_id, id) VALUES ('{ACME}', 1), ('{GLOBEX}', 2), ('{GLOBEX}', 3)"
    ))
    .unwrap();
}

#[test]
fn the_sql_probe_finds_a_table_without_a_wall_and_passes_one_with_it() {
    let db = tenancy_testing::test_database();
    db.owner_sql("CREATE TABLE open_notes (tenant_id uuid NOT NULL, id int NOT NULL)")
        .unwrap();
    db.owner_sql(&tenant_table_sql("notes", "id int NOT NULL"))
        .unwrap();
    seed(&db, "open_notes");
    seed(&db, "notes");

    let open = cross_tenant_sql(
        &db,
        "app.tenant_id",
        "open_notes",
        "tenant_id",
        "id",
        ACME,
        GLOBEX,
    )
    .unwrap();
    assert_eq!(open.tried, 2);
    assert_eq!(open.seen, ["2", "3"]);
    assert_eq!(open.updated, ["2", "3"]);
    assert_eq!(open.deleted, ["2", "3"]);
    assert!(!open.is_isolated());
    assert!(std::panic::catch_unwind(|| open.assert_isolated()).is_err());
    // Every attempt rolled back: globex still has its rows.
    assert_eq!(
        db.admin_sql(&format!(
            "SELECT count(*) FROM open_notes WHERE tenant_id = '{GLOBEX}'"
        ))
        .unwrap(),
        "2"
    );

    let walled = cross_tenant_sql(
        &db,
        "app.tenant_id",
        "notes",
        "tenant_id",
        "id",
        ACME,
        GLOBEX,
    )
    .unwrap();
    assert_eq!(walled.tried, 2);
    walled.assert_isolated();

    // A probe with nothing to try proves nothing.
    let empty = cross_tenant_sql(
        &db,
        "app.tenant_id",
        "notes",
        "tenant_id",
        "id",
        GLOBEX,
        "00000000-0000-0000-0000-000000000000",
    )
    .unwrap();
    assert!(std::panic::catch_unwind(|| empty.assert_isolated()).is_err());
}

#[test]
fn the_http_probe_accepts_only_403_and_404() {
    let mut probe = HttpProbe::new();
    probe.record("GET /orders/2", 404);
    probe.record("DELETE /orders/2", 403);
    probe.assert_denied();
    for leak in [200, 204, 400, 500] {
        let mut leaky = probe.clone();
        leaky.record("PATCH /orders/2", leak);
        assert_eq!(leaky.leaks().len(), 1, "{leak}");
        assert!(std::panic::catch_unwind(|| leaky.assert_denied()).is_err());
    }
    assert!(std::panic::catch_unwind(|| HttpProbe::new().assert_denied()).is_err());
}

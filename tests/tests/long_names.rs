//! PostgreSQL cuts identifiers to 63 bytes without an error. The index the
//! generated policy adds is named after its table: for a table whose name
//! is 63 bytes long, the cut index name would be the table's own name, and
//! `CREATE INDEX IF NOT EXISTS` would skip it ("relation already exists")
//! and leave the tenant column unindexed. The SDK's derived names are kept
//! within 63 bytes, apart from each other.

#![allow(clippy::unwrap_used)] // test helpers

use tenancy_core::rls::{MAX_IDENT_LEN, TenantPolicy};
use tenancy_testing::fixtures::tenant_table_sql;

#[test]
fn a_table_with_a_63_byte_name_gets_its_tenant_index() {
    let db = tenancy_testing::test_database();
    let names = [
        "o".repeat(MAX_IDENT_LEN),
        format!("{}a", "o".repeat(MAX_IDENT_LEN - 1)),
        "orders".to_owned(),
    ];
    for table in &names {
        db.owner_sql(&tenant_table_sql(table, "id int NOT NULL"))
            .unwrap();
        let indexed = db
            .admin_sql(&format!(
                "SELECT count(*) FROM pg_index i JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = i.indkey[0] \
                 WHERE i.indrelid = 'public.\"{table}\"'::regclass AND a.attname = 'tenant_id'"
            ))
            .unwrap();
        assert_eq!(indexed, "1", "{table}: no index leads with tenant_id");
        // Its name still says which table it belongs to: as much of the
        // table's name as fits before the hash.
        let index = db
            .admin_sql(&format!(
                "SELECT indexname FROM pg_indexes WHERE tablename = '{table}' AND indexdef LIKE '%(tenant_id)'"
            ))
            .unwrap();
        let kept = table.len().min(MAX_IDENT_LEN - 9);
        assert!(index.starts_with(&table[..kept]), "{table}: {index}");
        // The policy is idempotent: applying it again changes nothing.
        db.owner_sql(&TenantPolicy::new(table).unwrap().enable_sql())
            .unwrap();
    }
    let indexes = db
        .admin_sql("SELECT count(*) FROM pg_indexes WHERE schemaname = 'public'")
        .unwrap();
    assert_eq!(indexes, "3");
}

#[test]
fn a_name_postgresql_would_cut_is_refused_before_it_reaches_the_database() {
    for len in [MAX_IDENT_LEN + 1, MAX_IDENT_LEN + 2, 200] {
        let name = "o".repeat(len);
        let err = TenantPolicy::new(&name).unwrap_err();
        assert!(err.to_string().contains("1 to 63"), "{len}: {err}");
    }
    assert!(TenantPolicy::new("").is_err());
    assert!(TenantPolicy::new(&"o".repeat(MAX_IDENT_LEN)).is_ok());
}

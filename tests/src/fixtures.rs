//! Tables for isolation tests, under the SDK's generated row-level security
//! policy ([`TenantPolicy`]), so a test starts from what production runs.

use tenancy_core::rls::TenantPolicy;

use crate::{HarnessError, TestDatabase};

/// `CREATE TABLE table (tenant column, columns)` and the generated policy
/// (tenant column default and `NOT NULL`, index, `ENABLE` and `FORCE` row
/// level security, one policy with `USING` and `WITH CHECK`). `columns`
/// are the other columns and constraints, such as
/// `id uuid NOT NULL DEFAULT gen_random_uuid(), item text NOT NULL,
/// PRIMARY KEY (tenant_id, id)`.
///
/// # Panics
///
/// Panics, failing the test, when `table` is not a valid identifier.
#[allow(clippy::panic)]
pub fn tenant_table_sql(table: &str, columns: &str) -> String {
    let policy = TenantPolicy::new(table).unwrap_or_else(|err| panic!("tenancy-testing: {err}"));
    format!(
        "CREATE TABLE {table} ({}, {columns});\n{}",
        policy.column_sql(),
        policy.enable_sql()
    )
}

/// The `orders` table most isolation tests use: `id`, the tenant column,
/// `item` and `quantity` (default 1), keyed by `(tenant_id, id)`.
pub fn orders_table_sql() -> String {
    tenant_table_sql(
        "orders",
        "id uuid NOT NULL DEFAULT gen_random_uuid(), item text NOT NULL, \
         quantity int NOT NULL DEFAULT 1, PRIMARY KEY (tenant_id, id)",
    )
}

impl TestDatabase {
    /// Creates a tenant table as its owner ([`tenant_table_sql`]).
    pub fn create_tenant_table(&self, table: &str, columns: &str) -> Result<(), HarnessError> {
        self.owner_sql(&tenant_table_sql(table, columns)).map(drop)
    }
}

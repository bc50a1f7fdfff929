//! A multi-table shop on tenancy: customers, categories, products, orders,
//! order lines and payments, keyed by `(tenant_id, id)`, with reports,
//! pagination, bulk updates and cascading deletes.
//!
//! Every query in [`queries`] is written with tenancy's scoped SQL macros
//! (`tenancy_sqlx::query!` and friends): each is proven at compile time to
//! filter every tenant table to `$tenant`, and row-level security enforces
//! the same in the database. The tests run each query for one tenant of a
//! shared database, with row-level security switched off, and compare the
//! answer with the same query on a database that holds only that tenant.
#![deny(missing_docs)]

pub mod baseline;
pub mod diesel_queries;
pub mod diesel_schema;
pub mod model;
pub mod queries;
pub mod sample;

use tenancy_core::rls::TenantPolicy;

/// The schema (as `schema.sql`), without row-level security.
pub const SCHEMA: &str = include_str!("../schema.sql");

/// The tables that hold tenant rows.
pub const TENANT_TABLES: &[&str] = &[
    "customers",
    "categories",
    "products",
    "orders",
    "order_lines",
    "payments",
];

/// The migration: the schema, and row-level security on every tenant
/// table. Run it as the tables' owner.
pub fn migration() -> String {
    let mut sql = SCHEMA.to_owned();
    for table in TENANT_TABLES {
        // The names are constants, valid identifiers.
        if let Ok(policy) = TenantPolicy::new(table) {
            sql.push_str(&policy.enable_sql());
            sql.push('\n');
        }
    }
    sql.push_str("INSERT INTO currencies VALUES ('EUR', 'Euro'), ('USD', 'US dollar');\n");
    sql
}

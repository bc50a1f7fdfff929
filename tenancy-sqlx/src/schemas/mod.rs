//! Schema per tenant: each tenant's tables in a schema of its own.
//!
//! For tenants whose [`Placement`](tenancy_core::Placement) names a schema,
//! every tenant transaction (of `tenancy-sqlx` and `tenancy-diesel` alike)
//! starts with
//!
//! ```sql
//! BEGIN; SET LOCAL app.tenant_id = '<id>'; SET LOCAL search_path = "<schema>"; SET LOCAL ROLE "<schema>"
//! ```
//!
//! in one message: unqualified names resolve inside the tenant's schema,
//! and the transaction runs as the schema's own role, which cannot read any
//! other tenant's schema even when a query names it. All settings end with
//! the transaction, so pooled connections (and PgBouncer in transaction
//! mode) carry nothing over.
//!
//! [`SchemaProvisioner`] creates the schema and its role and runs the
//! application's [`Migrations`] in it; [`SchemaProvisioner::migrate_all`]
//! keeps all tenant schemas up to date (also as `tenancy schemas migrate`).
//!
//! Tenants in shared tables and tenants with their own schema can live in
//! one database: moving a tenant is provisioning its schema, copying its
//! rows and changing its placement in the tenant store. Handlers do not
//! change.

mod migrations;
mod provisioner;

pub use migrations::{Migration, Migrations};
pub use provisioner::{MigrationProgress, MigrationReport, SchemaProvisioner};

// A tenant transaction runs only scoped queries: a plain table does not compile.
use diesel::prelude::*;
use tenancy_diesel::{Error, TenantPool};

diesel::table! { orders (tenant_id, id) { id -> Uuid, tenant_id -> Uuid, item -> Text } }
tenancy_diesel::tenant_scoped!(orders.tenant_id);

fn list(pool: &TenantPool, tenant: &tenancy_core::Tenant) -> Result<Vec<String>, Error> {
    pool.transaction(tenant, |tx| tx.load(orders::table.select(orders::item)))
}

fn main() {}

// A tenant transaction runs only scoped queries: a plain table does not compile.
use tenancy_diesel::{Error, TenantPool};

diesel::table! { orders (tenant_id, id) { id -> Uuid, tenant_id -> Uuid, item -> Text } }
tenancy_diesel::tenant_table!(orders.tenant_id);

fn list(pool: &TenantPool, tenant: &tenancy_core::Tenant) -> Result<Vec<(uuid::Uuid, uuid::Uuid, String)>, Error> {
    pool.transaction(tenant, |tx| tx.fetch_all(orders::table))
}

fn main() {}

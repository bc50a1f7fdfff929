// The right way: scope the query to the transaction's tenant.
use tenancy_diesel::{Error, ForTenantDsl, TenantPool};

diesel::table! { orders (tenant_id, id) { id -> Uuid, tenant_id -> Uuid, item -> Text } }
tenancy_diesel::tenant_table!(orders.tenant_id);

#[allow(dead_code)]
fn list(pool: &TenantPool, tenant: &tenancy_core::Tenant) -> Result<Vec<(uuid::Uuid, uuid::Uuid, String)>, Error> {
    pool.transaction(tenant, |tx| {
        let t = tx.tenant().clone();
        tx.fetch_all(orders::table.for_tenant(&t))
    })
}

fn main() {}

// A WHERE clause written before the tenant's would be joined to it with a
// bare AND (`... WHERE a OR b AND tenant_id = $1`): scoping such an UPDATE
// or DELETE does not compile.
use diesel::prelude::*;
use tenancy_diesel::ForTenantDsl;

diesel::table! { orders (tenant_id, id) { id -> Uuid, tenant_id -> Uuid, quantity -> Int4 } }
tenancy_diesel::tenant_table!(orders.tenant_id);

fn main() {
    let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse().unwrap()).build();
    let _ = diesel::update(orders::table.filter(orders::quantity.eq(1)))
        .set(orders::quantity.eq(2))
        .for_tenant(&acme);
    let _ = diesel::delete(orders::table.filter(orders::quantity.eq(1))).for_tenant(&acme);
}

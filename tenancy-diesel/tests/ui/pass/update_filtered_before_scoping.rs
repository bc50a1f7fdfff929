// The right way: scope first, then narrow; the condition is grouped.
use diesel::prelude::*;
use tenancy_diesel::ForTenantDsl;

diesel::table! { orders (tenant_id, id) { id -> Uuid, tenant_id -> Uuid, quantity -> Int4 } }
tenancy_diesel::tenant_table!(orders.tenant_id);

fn main() {
    let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse().unwrap()).build();
    let update = diesel::update(orders::table)
        .set(orders::quantity.eq(2))
        .for_tenant(&acme)
        .filter(orders::quantity.eq(1));
    let sql = update.debug_sql();
    assert!(sql.contains("(\"orders\".\"tenant_id\" = $2) AND ((\"orders\".\"quantity\" = $3))"), "{sql}");
    let _ = diesel::delete(orders::table).for_tenant(&acme).filter(orders::quantity.eq(1));
}

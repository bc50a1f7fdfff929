// The right way: declare the tenant column once, then scope.
use tenancy_diesel::ForTenantDsl;

diesel::table! { menus (tenant_id, id) { id -> Int4, tenant_id -> Uuid } }
tenancy_diesel::tenant_table!(menus.tenant_id);

fn main() {
    let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse().unwrap()).build();
    let scoped = menus::table.for_tenant(&acme);
    assert_eq!(scoped.tenant(), acme.id());
}

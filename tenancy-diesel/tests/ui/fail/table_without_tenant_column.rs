// A table that does not declare a tenant column cannot be scoped.
use tenancy_diesel::ForTenantDsl;

diesel::table! { countries (code) { code -> Text } }

fn main() {
    let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse().unwrap()).build();
    let _ = countries::table.for_tenant(&acme);
}

// The current tenant may be missing: it is a Result, never a bare Tenant.
use tenancy_core::{Tenant, TenantContext};

fn main() {
    let _tenant: Tenant = TenantContext::current();
}

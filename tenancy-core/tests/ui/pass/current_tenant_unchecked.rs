// The right way: handle the missing tenant.
use tenancy_core::{Tenant, TenantContext, TenantError};

fn main() {
    let tenant: Result<Tenant, TenantError> = TenantContext::current();
    assert_eq!(tenant.unwrap_err(), TenantError::Missing);
}

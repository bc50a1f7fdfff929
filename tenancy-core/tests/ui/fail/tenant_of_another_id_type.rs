// An application configured for UUID tenant ids (the `TenantContext` alias)
// cannot be handed a tenant keyed by a bigint, nor a bigint id where a UUID
// id is expected.
use tenancy_core::{Tenant, TenantContext, TenantError, TenantId};

fn lookup(_id: TenantId) {}

fn main() -> Result<(), TenantError> {
    let bigint = Tenant::builder(TenantId::new(42_i64)?, "acme".parse()?).build();
    TenantContext::sync_scope(bigint.clone(), || ());
    lookup(bigint.id());
    Ok(())
}

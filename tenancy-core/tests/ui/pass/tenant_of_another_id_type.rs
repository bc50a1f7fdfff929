// The right way: one id type in the whole application, named once in a
// context alias.
use tenancy_core::{Tenant, TenantError, TenantId};

type TenantContext = tenancy_core::TenantContextOf<i64>;

fn lookup(_id: TenantId<i64>) {}

fn main() -> Result<(), TenantError> {
    let bigint = Tenant::builder(TenantId::new(42_i64)?, "acme".parse()?).build();
    TenantContext::sync_scope(bigint.clone(), || ());
    lookup(bigint.id());
    Ok(())
}

// The right way: a transaction for a tenant (or the current TenantContext).
use tenancy_diesel::{Error, TenantPool};

#[allow(dead_code)]
fn work(pool: &TenantPool, tenant: &tenancy_core::Tenant) -> Result<(), Error> {
    pool.transaction(tenant, |_tx| Ok::<_, Error>(()))?;
    pool.transaction_current(|_tx| Ok::<_, Error>(()))
}

fn main() {}

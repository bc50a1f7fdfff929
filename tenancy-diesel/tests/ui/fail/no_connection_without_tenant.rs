// A TenantPool has no way to a connection that does not name a tenant.
use tenancy_diesel::TenantPool;

fn raw(pool: &TenantPool) {
    let _conn = pool.get();
}

fn main() {}

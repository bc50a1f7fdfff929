// A transaction is opened for a resolved Tenant, never for a raw string.
use tenancy_sqlx::TenantPool;

async fn open(pool: &TenantPool) {
    let _ = pool.begin("acme").await;
}

fn main() {}

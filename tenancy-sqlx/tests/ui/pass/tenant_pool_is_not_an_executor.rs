// The right way: open a tenant transaction and run the query on it.
use tenancy_core::Tenant;
use tenancy_sqlx::TenantPool;

#[allow(dead_code)]
async fn count(pool: &TenantPool, tenant: &Tenant) -> tenancy_sqlx::Result<()> {
    let mut tx = pool.begin(tenant).await?;
    sqlx::query("SELECT count(*) FROM orders").execute(&mut tx).await?;
    tx.commit().await
}

fn main() {}

// The right way: resolve the tenant (tenancy-tower does it per request).
use tenancy_core::{Tenant, TenantId};
use tenancy_sqlx::TenantPool;

#[allow(dead_code)]
async fn open(pool: &TenantPool) -> Result<(), Box<dyn std::error::Error>> {
    let id: TenantId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse()?;
    let acme = Tenant::builder(id, "acme".parse()?).build();
    let tx = pool.begin(&acme).await?;
    tx.commit().await?;
    Ok(())
}

fn main() {}

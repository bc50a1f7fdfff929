// The right way: one id type from the tenant to the pool, the transaction
// and the tables.
use tenancy_core::{Tenant, TenantId};
use tenancy_sqlx::{Scoped, TenantPool};

tenancy_sqlx::tenant_table!(pub Invoices = "invoices", tenant_column = "account_id", id = i64);

#[allow(dead_code)]
async fn open(pool: &TenantPool<i64>) -> Result<(), Box<dyn std::error::Error>> {
    let acme = Tenant::builder(TenantId::new(42_i64)?, "acme".parse()?).build();
    let mut tx = pool.begin(&acme).await?;
    let _ = Scoped::<Invoices>::select().for_tenant(&acme).count(&mut tx).await?;
    tx.commit().await?;
    Ok(())
}

fn main() {}

// The right way: bind the builder to the transaction's tenant, then run it.
use tenancy_sqlx::{Scoped, TenantTx};

tenancy_sqlx::tenant_table!(Orders = "orders");

#[allow(dead_code)]
async fn count(tx: &mut TenantTx) -> tenancy_sqlx::Result<i64> {
    let tenant = tx.tenant().clone();
    let _gone = Scoped::<Orders>::delete().for_tenant(&tenant).execute(tx).await?;
    Scoped::<Orders>::select().for_tenant(&tenant).count(tx).await
}

fn main() {}

// The right way: bind the select to the transaction's tenant.
use tenancy_sqlx::{Scoped, TenantTx};

tenancy_sqlx::tenant_table!(Orders = "orders");

#[allow(dead_code)]
async fn list(tx: &mut TenantTx) -> tenancy_sqlx::Result<Vec<(i32,)>> {
    let tenant = tx.tenant().clone();
    Scoped::<Orders>::select().for_tenant(&tenant).fetch_all(tx).await
}

fn main() {}

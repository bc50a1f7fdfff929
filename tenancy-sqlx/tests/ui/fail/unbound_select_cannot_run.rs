// A select that is not bound to a tenant has no method that runs it.
use tenancy_sqlx::{Scoped, TenantTx};

tenancy_sqlx::tenant_table!(Orders = "orders");

async fn list(tx: &mut TenantTx) {
    let _rows: Vec<(i32,)> = Scoped::<Orders>::select().fetch_all(tx).await.unwrap();
}

fn main() {}

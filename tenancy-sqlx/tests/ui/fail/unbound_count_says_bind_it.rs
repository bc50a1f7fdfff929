// Counting with a builder that is not bound to a tenant does not compile,
// and the error says to bind it (not that the builder "is not an iterator").
use tenancy_sqlx::{Scoped, TenantTx};

tenancy_sqlx::tenant_table!(Orders = "orders");

async fn count(tx: &mut TenantTx) {
    let _n = Scoped::<Orders>::select().count(tx).await;
    let _gone = Scoped::<Orders>::delete().execute(tx).await;
}

fn main() {}

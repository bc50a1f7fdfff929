// An application keyed by bigint ids: a pool, a transaction and a table of
// bigint ids take no tenant (or transaction) keyed by a UUID.
use tenancy_core::{Tenant, TenantId};
use tenancy_sqlx::{Scoped, TenantPool, TenantTx};

tenancy_sqlx::tenant_table!(pub Invoices = "invoices", tenant_column = "account_id", id = i64);

async fn open(pool: &TenantPool<i64>, uuid_tx: &mut TenantTx) {
    let acme = Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build();
    let _ = pool.begin(&acme).await;
    let _ = Scoped::<Invoices>::select().for_tenant(&acme);
    let bigint = Tenant::builder(TenantId::new(42_i64).unwrap(), "acme".parse().unwrap()).build();
    let _ = Scoped::<Invoices>::select().for_tenant(&bigint).count(uuid_tx).await;
}

fn main() {}

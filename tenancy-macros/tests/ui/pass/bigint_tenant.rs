// A table keyed by bigint tenant ids (the manifest says so): `$tenant` is
// bound as an i64, and the query runs on a transaction of bigint tenants.
async fn run(tx: &mut tenancy_sqlx::TenantTx<i64>) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("SELECT id, amount FROM ledger WHERE tenant_id = $tenant")
        .fetch_all(tx)
        .await?;
    Ok(())
}

fn main() {
    let _ = run;
}

// A table keyed by bigint tenant ids cannot be read in a transaction of
// UUID tenants: the id types differ, so it does not compile.
async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("SELECT id, amount FROM ledger WHERE tenant_id = $tenant")
        .fetch_all(tx)
        .await?;
    Ok(())
}

fn main() {
    let _ = run;
}

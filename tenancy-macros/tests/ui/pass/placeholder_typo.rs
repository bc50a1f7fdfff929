async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("SELECT id FROM orders WHERE tenant_id = $tenant").fetch_all(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

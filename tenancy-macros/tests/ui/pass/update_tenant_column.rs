async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("UPDATE products SET sku = $1 WHERE tenant_id = $tenant", "x").execute(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

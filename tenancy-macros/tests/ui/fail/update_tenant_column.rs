async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("UPDATE products SET tenant_id = $1 WHERE tenant_id = $tenant", uuid::Uuid::nil()).execute(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

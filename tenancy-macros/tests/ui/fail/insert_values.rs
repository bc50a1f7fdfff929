async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("INSERT INTO customers (tenant_id, id, name) VALUES ($1, 1, 'x')", uuid::Uuid::nil()).execute(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("INSERT INTO customers (tenant_id, id, name) VALUES ($tenant, $1, 'x')", 1_i64).execute(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

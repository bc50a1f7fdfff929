async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("INSERT INTO products (tenant_id, id, sku, price) VALUES ($tenant, 1, 'x', 1) ON CONFLICT (tenant_id, sku) DO UPDATE SET price = EXCLUDED.price").execute(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

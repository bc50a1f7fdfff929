async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("MERGE INTO products p USING products s ON p.tenant_id = $tenant AND p.sku = s.sku WHEN NOT MATCHED THEN INSERT (tenant_id, id, sku, price) VALUES ($tenant, s.id, s.sku, s.price)").execute(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("INSERT INTO order_lines (tenant_id, order_id, line_no, product_id, qty) SELECT $tenant, 1, 1, id, 1 FROM products WHERE sku = 'x'").execute(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

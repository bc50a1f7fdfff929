async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("SELECT o.id FROM orders o WHERE o.tenant_id = $tenant AND EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id)").fetch_all(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

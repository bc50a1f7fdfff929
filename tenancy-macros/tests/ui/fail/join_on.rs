async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("SELECT o.id, l.qty FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.tenant_id = $tenant").fetch_all(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("SELECT o.id, x.qty FROM orders o, LATERAL (SELECT qty FROM order_lines l WHERE l.order_id = o.id LIMIT 1) x WHERE o.tenant_id = $tenant").fetch_all(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

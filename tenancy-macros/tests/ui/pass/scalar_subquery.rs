async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("SELECT o.id, (SELECT count(*) FROM order_lines l WHERE l.tenant_id = o.tenant_id AND l.order_id = o.id) AS n FROM orders o WHERE o.tenant_id = $tenant").fetch_all(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

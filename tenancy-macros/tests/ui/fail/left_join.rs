async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("SELECT o.id, p.amount AS \"amount?\" FROM orders o LEFT JOIN payments p ON p.order_id = o.id WHERE o.tenant_id = $tenant").fetch_all(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

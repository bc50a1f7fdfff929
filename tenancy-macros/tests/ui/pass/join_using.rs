async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("SELECT l.qty, p.amount FROM order_lines l JOIN payments p USING (tenant_id, order_id) WHERE l.tenant_id = $tenant").fetch_all(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

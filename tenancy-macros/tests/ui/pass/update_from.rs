async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("UPDATE orders o SET status = 'paid' FROM payments p WHERE o.tenant_id = $tenant AND p.tenant_id = o.tenant_id AND p.order_id = o.id").execute(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

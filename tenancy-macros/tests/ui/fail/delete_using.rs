async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("DELETE FROM order_lines l USING orders o WHERE l.tenant_id = $tenant AND o.id = l.order_id AND o.status = 'void'").execute(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

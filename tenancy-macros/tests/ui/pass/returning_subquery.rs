async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query_scalar!("INSERT INTO payments (tenant_id, id, order_id, amount) VALUES ($tenant, 1, 1, 1) RETURNING (SELECT count(*) FROM payments WHERE tenant_id = $tenant)").fetch_one(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("SELECT product_id, rank() OVER (ORDER BY sum(qty) DESC) FROM order_lines GROUP BY product_id").fetch_all(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

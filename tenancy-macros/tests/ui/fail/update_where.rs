async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("UPDATE products SET price = price * 2").execute(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

async fn run(tx: &mut tenancy_sqlx::TenantTx) -> tenancy_sqlx::Result<()> {
    let _ = tenancy_sqlx::query!("WITH RECURSIVE t AS (SELECT id FROM categories WHERE tenant_id = $tenant AND parent_id IS NULL UNION ALL SELECT c.id FROM categories c JOIN t ON c.parent_id = t.id) SELECT id AS \"id!\" FROM t").fetch_all(tx).await?;
    Ok(())
}

fn main() {
    let _ = run;
}

// Raw SQL runs on the transaction and the session themselves: they are
// executors, so no connection is needed.
async fn raw(
    tx: &mut tenancy_sqlx::TenantTx,
    session: &mut tenancy_sqlx::TenantSession,
) -> Result<(), sqlx::Error> {
    let _: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&mut *tx).await?;
    let _: i64 = sqlx::query_scalar("SELECT count(*) FROM orders").fetch_one(&mut *session).await?;
    Ok(())
}

fn main() {}

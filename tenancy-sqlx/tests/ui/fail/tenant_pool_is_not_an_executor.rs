// A TenantPool cannot run a query: there is no tenant to run it for.
use tenancy_sqlx::TenantPool;

async fn count(pool: &TenantPool) {
    let _ = sqlx::query("SELECT count(*) FROM orders").execute(pool).await;
}

fn main() {}

// A tenant transaction hands out no `&mut PgConnection`: swapping in another
// connection (another tenant's, an administrator's) does not compile.
async fn swap(tx: &mut tenancy_sqlx::TenantTx, admin: &mut sqlx::PgConnection) {
    std::mem::swap(&mut **tx, admin);
}

async fn swap_session(session: &mut tenancy_sqlx::TenantSession, admin: sqlx::PgConnection) {
    let _theirs = std::mem::replace(&mut **session, admin);
}

fn main() {}

// diesel-async: an UPDATE without for_tenant does not run.
use diesel::prelude::*;
use tenancy_diesel::{AsyncTenantPool, Error, ForTenantDsl};

diesel::table! { orders (tenant_id, id) { tenant_id -> Uuid, id -> Int8, customer -> Text } }
diesel::table! { order_lines (tenant_id, order_id, line_no) { tenant_id -> Uuid, order_id -> Int8, line_no -> Int4, qty -> Int4 } }
diesel::table! { plans (id) { id -> Int4, name -> Text } }
diesel::allow_tables_to_appear_in_same_query!(orders, order_lines, plans);
tenancy_diesel::tenant_table!(orders.tenant_id, order_lines.tenant_id);

#[allow(dead_code)]
async fn rename(pool: &AsyncTenantPool, tenant: &tenancy_core::Tenant) -> Result<usize, Error> {
    let mut tx = pool.begin(tenant).await?;
    let n = tx.execute_scoped(diesel::update(orders::table).set(orders::customer.eq("x"))).await?;
    tx.commit().await?;
    Ok(n)
}

fn main() {}

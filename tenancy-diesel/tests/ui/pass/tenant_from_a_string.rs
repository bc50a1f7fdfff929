// The right way: for_tenant takes a resolved Tenant, never a string from the request.
use diesel::prelude::*;
use tenancy_diesel::{Error, ForTenantDsl, TenantPool};

diesel::table! { orders (tenant_id, id) { tenant_id -> Uuid, id -> Int8, customer -> Text } }
diesel::table! { order_lines (tenant_id, order_id, line_no) { tenant_id -> Uuid, order_id -> Int8, line_no -> Int4, qty -> Int4 } }
diesel::table! { plans (id) { id -> Int4, name -> Text } }
diesel::allow_tables_to_appear_in_same_query!(orders, order_lines, plans);
tenancy_diesel::tenant_table!(orders.tenant_id, order_lines.tenant_id);

#[allow(dead_code)]
fn list(pool: &TenantPool, tenant: &tenancy_core::Tenant) -> Result<Vec<String>, Error> {
    pool.transaction(tenant, |tx| {
        let t = tx.tenant().clone();
        tx.fetch_all(orders::table.for_tenant(&t).select(orders::customer))
    })
}

fn main() {}

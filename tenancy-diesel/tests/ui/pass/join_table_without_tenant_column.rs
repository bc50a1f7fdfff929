// The right way: scoped joins take tenant tables only: the SDK adds the joined table's tenant condition.
use diesel::prelude::*;
use tenancy_diesel::{Error, ForTenantDsl, TenantPool};

diesel::table! { orders (tenant_id, id) { tenant_id -> Uuid, id -> Int8, customer -> Text } }
diesel::table! { order_lines (tenant_id, order_id, line_no) { tenant_id -> Uuid, order_id -> Int8, line_no -> Int4, qty -> Int4 } }
diesel::table! { plans (id) { id -> Int4, name -> Text } }
diesel::allow_tables_to_appear_in_same_query!(orders, order_lines, plans);
tenancy_diesel::tenant_table!(orders.tenant_id, order_lines.tenant_id);

#[allow(dead_code)]
fn names(pool: &TenantPool, tenant: &tenancy_core::Tenant) -> Result<Vec<i32>, Error> {
    pool.transaction(tenant, |tx| {
        let t = tx.tenant().clone();
        tx.fetch_all(order_lines::table.for_tenant(&t).inner_join(orders::table, orders::id.eq(order_lines::order_id)).select(order_lines::qty))
    })
}

fn main() {}

// The right way: raw SQL does not run on a tenant transaction's scoped methods; it needs dangerous_raw_connection() (and RLS still applies).
use diesel::prelude::*;
use tenancy_diesel::{Error, ForTenantDsl, TenantPool};

diesel::table! { orders (tenant_id, id) { tenant_id -> Uuid, id -> Int8, customer -> Text } }
diesel::table! { order_lines (tenant_id, order_id, line_no) { tenant_id -> Uuid, order_id -> Int8, line_no -> Int4, qty -> Int4 } }
diesel::table! { plans (id) { id -> Int4, name -> Text } }
diesel::allow_tables_to_appear_in_same_query!(orders, order_lines, plans);
tenancy_diesel::tenant_table!(orders.tenant_id, order_lines.tenant_id);

#[allow(dead_code)]
#[derive(diesel::QueryableByName)]
struct Name { #[diesel(sql_type = diesel::sql_types::Text)] customer: String }

fn list(pool: &TenantPool, tenant: &tenancy_core::Tenant) -> Result<Vec<Name>, Error> {
    pool.transaction(tenant, |tx| Ok(diesel::sql_query("SELECT customer FROM orders").load(tx.dangerous_raw_connection())?))
}

fn main() {}

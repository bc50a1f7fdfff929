// Table names are checked at compile time: no SQL can hide in them.
use tenancy_sqlx::TenantTable;

tenancy_sqlx::tenant_table!(Orders = "orders; DROP TABLE orders");

fn main() {
    let _ = Orders::TABLE;
}

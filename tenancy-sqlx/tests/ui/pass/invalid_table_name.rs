// The right way: a plain (optionally schema-qualified) lowercase name.
use tenancy_sqlx::TenantTable;

tenancy_sqlx::tenant_table!(Orders = "shop.orders");

fn main() {
    assert_eq!(Orders::TABLE, "shop.orders");
}

// The right way: a typed column that does not exist is a compile error, not a run-time one.
use tenancy_sqlx::Scoped;

tenancy_sqlx::tenant_table!(pub Orders = "orders" { id: uuid::Uuid, item: String, quantity: i32, note: Option<String> });
tenancy_sqlx::tenant_table!(pub Invoices = "invoices" { id: uuid::Uuid, total: i64 });

fn main() {
    let _ = Scoped::<Orders>::select().where_eq(Orders::item, "Fries");
}

// The right way: a value of the wrong type for a typed column is a compile error.
use tenancy_sqlx::Scoped;

tenancy_sqlx::tenant_table!(pub Orders = "orders" { id: uuid::Uuid, item: String, quantity: i32, note: Option<String> });
tenancy_sqlx::tenant_table!(pub Invoices = "invoices" { id: uuid::Uuid, total: i64 });

fn main() {
    let _ = Scoped::<Orders>::update().set(Orders::quantity, 3);
}

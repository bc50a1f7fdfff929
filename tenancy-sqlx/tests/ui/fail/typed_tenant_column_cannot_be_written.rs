// The tenant column has no typed constant: no write can name it.
use tenancy_sqlx::Scoped;

tenancy_sqlx::tenant_table!(pub Orders = "orders" { id: uuid::Uuid, item: String, quantity: i32, note: Option<String> });
tenancy_sqlx::tenant_table!(pub Invoices = "invoices" { id: uuid::Uuid, total: i64 });

fn main() {
    let _ = Scoped::<Orders>::insert().value(Orders::tenant_id, uuid::Uuid::nil());
}

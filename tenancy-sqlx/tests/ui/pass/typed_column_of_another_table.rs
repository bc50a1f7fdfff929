// The right way: a column of another table does not fit this table's builder.
use tenancy_sqlx::Scoped;

tenancy_sqlx::tenant_table!(pub Orders = "orders" { id: uuid::Uuid, item: String, quantity: i32, note: Option<String> });
tenancy_sqlx::tenant_table!(pub Invoices = "invoices" { id: uuid::Uuid, total: i64 });

fn main() {
    let _ = Scoped::<Invoices>::select().where_gt(Invoices::total, 10_i64);
}

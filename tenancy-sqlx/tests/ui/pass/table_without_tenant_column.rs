// The right way: declare the table's tenant column once.
use tenancy_sqlx::Scoped;

tenancy_sqlx::tenant_table!(Menus = "menus");

fn main() {
    let _ = Scoped::<Menus>::select();
}

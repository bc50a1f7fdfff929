// A table that does not declare a tenant column cannot be scoped.
use tenancy_sqlx::Scoped;

struct Countries;

fn main() {
    let _ = Scoped::<Countries>::select();
}

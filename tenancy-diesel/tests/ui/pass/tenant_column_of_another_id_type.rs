// The right way: say the id type of a tenant column that is not a uuid, and
// scope with a tenant of that id type.
use diesel::prelude::*;
use tenancy_core::{Tenant, TenantId};
use tenancy_diesel::ForTenantDsl;

diesel::table! {
    invoices (account_id, id) {
        account_id -> Int8,
        id -> Int8,
    }
}

diesel::table! {
    ledger (account_id, id) {
        account_id -> Int8,
        id -> Int8,
    }
}

tenancy_diesel::tenant_table!(invoices.account_id: i64, ledger.account_id: i64);

fn main() {
    let acme = Tenant::builder(TenantId::new(42_i64).unwrap(), "acme".parse().unwrap()).build();
    let _ = ledger::table.for_tenant(&acme);
    let _ = invoices::table.for_tenant(&acme);
}

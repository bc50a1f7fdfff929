// A bigint tenant column declared without its id type (so `Uuid`) does not
// compile, and a bigint table takes no UUID tenant.
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

tenancy_diesel::tenant_table!(invoices.account_id, ledger.account_id: i64);

fn main() {
    let acme = Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build();
    let _ = ledger::table.for_tenant(&acme);
}

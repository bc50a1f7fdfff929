// An application keyed by bigint ids: a plain i64 (from a request, a row,
// a default) is not a tenant id until it was checked.
use tenancy_core::TenantId;

fn main() {
    let account_id: i64 = 42;
    let _id: TenantId<i64> = account_id.into();
    let _slug: TenantId<String> = String::from("acme").into();
}

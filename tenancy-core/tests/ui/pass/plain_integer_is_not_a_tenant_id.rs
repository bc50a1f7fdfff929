// The right way: check the value (zero and negative ids are refused) or
// parse the text.
use tenancy_core::{TenantError, TenantId};

fn main() -> Result<(), TenantError> {
    let account_id: i64 = 42;
    let _id: TenantId<i64> = TenantId::new(account_id)?;
    let _id: TenantId<i64> = "42".parse()?;
    let _slug: TenantId<String> = TenantId::new(String::from("acme"))?;
    Ok(())
}

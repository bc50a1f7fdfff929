// The right way: parse, and handle the error.
use tenancy_core::{TenantError, TenantId};

fn main() -> Result<(), TenantError> {
    let _id: TenantId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse()?;
    let _id: TenantId = TenantId::try_from("67e55044-10b1-426f-9247-bb680e5fe0c8")?;
    Ok(())
}

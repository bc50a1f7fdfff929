// A tenant id cannot be conjured from a string without parsing it.
use tenancy_core::TenantId;

fn main() {
    let _id: TenantId = "67e55044-10b1-426f-9247-bb680e5fe0c8".into();
}

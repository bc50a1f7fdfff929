//! The diesel view of the two tables.

diesel::table! {
    orders (tenant_id, id) {
        id -> Uuid,
        tenant_id -> Uuid,
        item -> Text,
        quantity -> Int4,
    }
}

diesel::table! {
    orders_plain (tenant_id, id) {
        id -> Uuid,
        tenant_id -> Uuid,
        item -> Text,
        quantity -> Int4,
    }
}

tenancy_diesel::tenant_table!(orders.tenant_id);

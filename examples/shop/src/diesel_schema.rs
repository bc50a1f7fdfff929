//! The shop's tables for diesel (`schema.sql`), with their tenant columns.
#![allow(missing_docs)]

diesel::table! { currencies (code) { code -> Text, name -> Text } }
diesel::table! { customers (tenant_id, id) { tenant_id -> Uuid, id -> Int8, name -> Text, email -> Text } }
diesel::table! { categories (tenant_id, id) { tenant_id -> Uuid, id -> Int8, parent_id -> Nullable<Int8>, name -> Text } }
diesel::table! {
    products (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Int8,
        category_id -> Int8,
        sku -> Text,
        name -> Text,
        price_cents -> Int8,
        attrs -> Jsonb,
        updated_at -> Timestamptz,
    }
}
diesel::table! {
    orders (tenant_id, id) {
        tenant_id -> Uuid,
        id -> Int8,
        customer_id -> Int8,
        status -> Text,
        currency -> Text,
        placed_on -> Date,
    }
}
diesel::table! {
    order_lines (tenant_id, order_id, line_no) {
        tenant_id -> Uuid,
        order_id -> Int8,
        line_no -> Int4,
        product_id -> Int8,
        qty -> Int4,
        price_cents -> Int8,
    }
}
diesel::table! { payments (tenant_id, id) { tenant_id -> Uuid, id -> Int8, order_id -> Int8, amount_cents -> Int8 } }

diesel::allow_tables_to_appear_in_same_query!(
    currencies,
    customers,
    categories,
    products,
    orders,
    order_lines,
    payments
);

tenancy_diesel::tenant_table!(
    customers.tenant_id,
    categories.tenant_id,
    products.tenant_id,
    orders.tenant_id,
    order_lines.tenant_id,
    payments.tenant_id,
);

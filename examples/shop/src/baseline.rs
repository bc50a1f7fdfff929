//! Two shop queries written by hand with `sqlx::query_as!`, the tenant
//! passed as an ordinary parameter: what [`queries`](crate::queries) cost
//! is measured against these (`benches/macros.rs`). Nothing checks that
//! such a query filters every tenant table; that is the point of the
//! macros.

use tenancy_sqlx::TenantTx;

use crate::model::{CustomerValue, OrderLineView};

/// [`queries::order_lines`](crate::queries::order_lines), by hand.
pub async fn order_lines(tx: &mut TenantTx, order: i64) -> sqlx::Result<Vec<OrderLineView>> {
    let tenant = *tx.tenant().id().as_uuid();
    sqlx::query_as!(
        OrderLineView,
        "SELECT l.line_no, p.sku, l.qty, l.qty * l.price_cents AS \"amount_cents!\"
           FROM public.orders o
           JOIN public.order_lines l ON l.tenant_id = o.tenant_id AND l.order_id = o.id
           JOIN public.products p ON p.tenant_id = l.tenant_id AND p.id = l.product_id
          WHERE o.tenant_id = $2 AND o.id = $1
          ORDER BY l.line_no",
        order,
        tenant,
    )
    .fetch_all(tx)
    .await
}

/// [`queries::customer_values`](crate::queries::customer_values), by hand.
pub async fn customer_values(tx: &mut TenantTx) -> sqlx::Result<Vec<CustomerValue>> {
    let tenant = *tx.tenant().id().as_uuid();
    sqlx::query_as!(
        CustomerValue,
        r#"WITH spent AS (
             SELECT o.customer_id, sum(l.qty * l.price_cents)::bigint AS cents
               FROM public.orders o
               JOIN public.order_lines l ON l.tenant_id = o.tenant_id AND l.order_id = o.id
              WHERE o.tenant_id = $1
              GROUP BY o.customer_id
           )
           SELECT c.name AS "name!", s.cents AS "spent_cents!",
                  (100 * s.cents / (SELECT sum(cents) FROM spent))::bigint AS "percent!"
             FROM spent s JOIN public.customers c ON c.tenant_id = $1 AND c.id = s.customer_id
            ORDER BY s.cents DESC, c.name"#,
        tenant,
    )
    .fetch_all(tx)
    .await
}

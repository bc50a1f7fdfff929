//! Every query of the shop, written with tenancy's scoped SQL macros.
//!
//! Each one names `$tenant` for every tenant table it touches; leave one
//! out and the crate does not compile. The tenant is bound from the
//! [`TenantTx`] the query runs on.

use serde_json::Value as Json;
use tenancy_sqlx::{Result, TenantTx};

use crate::model::{
    CategoryPath, Customer, CustomerValue, DayRevenue, OrderLineView, OrderSummary, Product,
    ProductRank,
};

// ---- Customers -------------------------------------------------------------

/// Adds a customer, or renames one with this id (`ON CONFLICT`).
pub async fn upsert_customer(tx: &mut TenantTx, id: i64, name: &str, email: &str) -> Result<i64> {
    tenancy_sqlx::query_scalar!(
        "INSERT INTO customers (tenant_id, id, name, email) VALUES ($tenant, $1, $2, $3)
         ON CONFLICT (tenant_id, id) DO UPDATE SET name = EXCLUDED.name, email = EXCLUDED.email
         RETURNING id",
        id,
        name,
        email,
    )
    .fetch_one(tx)
    .await
}

/// The customer with this email.
pub async fn customer_by_email(tx: &mut TenantTx, email: &str) -> Result<Option<Customer>> {
    tenancy_sqlx::query_as!(
        Customer,
        "SELECT id, name, email FROM customers WHERE tenant_id = $tenant AND email = $1",
        email,
    )
    .fetch_optional(tx)
    .await
}

/// A page of customers after `after` (keyset pagination).
pub async fn customers_page(tx: &mut TenantTx, after: i64, limit: i64) -> Result<Vec<Customer>> {
    tenancy_sqlx::query_as!(
        Customer,
        "SELECT id, name, email FROM customers
          WHERE tenant_id = $tenant AND id > $1
          ORDER BY id LIMIT $2",
        after,
        limit,
    )
    .fetch_all(tx)
    .await
}

/// Deletes a customer; their orders, lines and payments go with them (the
/// foreign keys cascade, within the tenant: they include `tenant_id`).
pub async fn delete_customer(tx: &mut TenantTx, id: i64) -> Result<u64> {
    Ok(tenancy_sqlx::query!(
        "DELETE FROM customers WHERE tenant_id = $tenant AND id = $1",
        id,
    )
    .execute(tx)
    .await?
    .rows_affected())
}

// ---- Catalog ---------------------------------------------------------------

/// Adds a category.
pub async fn insert_category(
    tx: &mut TenantTx,
    id: i64,
    parent: Option<i64>,
    name: &str,
) -> Result<()> {
    tenancy_sqlx::query!(
        "INSERT INTO categories (tenant_id, id, parent_id, name) VALUES ($tenant, $1, $2, $3)",
        id,
        parent,
        name,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Every category under `root`, with its path (a recursive CTE).
pub async fn category_tree(tx: &mut TenantTx, root: i64) -> Result<Vec<CategoryPath>> {
    tenancy_sqlx::query_as!(
        CategoryPath,
        r#"WITH RECURSIVE tree (id, path, depth) AS (
             SELECT id, name, 0 FROM categories WHERE tenant_id = $tenant AND id = $1
             UNION ALL
             SELECT c.id, t.path || ' / ' || c.name, t.depth + 1
               FROM categories c JOIN tree t ON c.parent_id = t.id
              WHERE c.tenant_id = $tenant
           )
           SELECT id AS "id!", path AS "path!", depth AS "depth!" FROM tree ORDER BY path"#,
        root,
    )
    .fetch_all(tx)
    .await
}

/// Adds a product.
pub async fn insert_product(
    tx: &mut TenantTx,
    id: i64,
    category: i64,
    sku: &str,
    name: &str,
    price_cents: i64,
    attrs: Json,
) -> Result<()> {
    tenancy_sqlx::query!(
        "INSERT INTO products (tenant_id, id, category_id, sku, name, price_cents, attrs)
         VALUES ($tenant, $1, $2, $3, $4, $5, $6)",
        id,
        category,
        sku,
        name,
        price_cents,
        attrs,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Products whose attributes contain `filter` (jsonb `@>`), by price.
pub async fn products_matching(tx: &mut TenantTx, filter: Json) -> Result<Vec<Product>> {
    tenancy_sqlx::query_as!(
        Product,
        "SELECT id, sku, name, price_cents FROM products
          WHERE tenant_id = $tenant AND attrs @> $1
          ORDER BY price_cents, id",
        filter,
    )
    .fetch_all(tx)
    .await
}

/// A page of products (offset pagination).
pub async fn products_page(tx: &mut TenantTx, limit: i64, offset: i64) -> Result<Vec<Product>> {
    tenancy_sqlx::query_as!(
        Product,
        "SELECT id, sku, name, price_cents FROM products
          WHERE tenant_id = $tenant ORDER BY sku LIMIT $1 OFFSET $2",
        limit,
        offset,
    )
    .fetch_all(tx)
    .await
}

/// Raises the prices of a category and its direct subcategories by
/// `percent` (an expression in `SET`, `now()`, a subquery with `IN`).
pub async fn raise_prices(tx: &mut TenantTx, category: i64, percent: i64) -> Result<u64> {
    Ok(tenancy_sqlx::query!(
        "UPDATE products SET price_cents = price_cents * (100 + $2::bigint) / 100, updated_at = now()
          WHERE tenant_id = $tenant
            AND category_id IN (SELECT id FROM categories
                                 WHERE tenant_id = $tenant AND (id = $1 OR parent_id = $1))",
        category,
        percent,
    )
    .execute(tx)
    .await?
    .rows_affected())
}

/// Products never ordered (`NOT EXISTS`).
pub async fn products_never_sold(tx: &mut TenantTx) -> Result<Vec<Product>> {
    tenancy_sqlx::query_as!(
        Product,
        "SELECT p.id, p.sku, p.name, p.price_cents FROM products p
          WHERE p.tenant_id = $tenant
            AND NOT EXISTS (SELECT 1 FROM order_lines l
                             WHERE l.tenant_id = p.tenant_id AND l.product_id = p.id)
          ORDER BY p.id",
    )
    .fetch_all(tx)
    .await
}

// ---- Orders ----------------------------------------------------------------

/// Opens an order; the currency is a shared table's key.
pub async fn insert_order(
    tx: &mut TenantTx,
    id: i64,
    customer: i64,
    currency: &str,
    placed_on: &str,
) -> Result<()> {
    tenancy_sqlx::query!(
        "INSERT INTO orders (tenant_id, id, customer_id, currency, placed_on)
         SELECT $tenant, $1, c.id, cur.code, $4::text::date
           FROM customers c JOIN currencies cur ON cur.code = $3
          WHERE c.tenant_id = $tenant AND c.id = $2",
        id,
        customer,
        currency,
        placed_on,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// Adds a line at the product's current price (`INSERT ... SELECT`).
pub async fn add_line(
    tx: &mut TenantTx,
    order: i64,
    line_no: i32,
    product: i64,
    qty: i32,
) -> Result<u64> {
    Ok(tenancy_sqlx::query!(
        "INSERT INTO order_lines (tenant_id, order_id, line_no, product_id, qty, price_cents)
         SELECT $tenant, $1, $2, p.id, $4, p.price_cents
           FROM products p WHERE p.tenant_id = $tenant AND p.id = $3",
        order,
        line_no,
        product,
        qty,
    )
    .execute(tx)
    .await?
    .rows_affected())
}

/// An order's lines with their products (a three-table join on the
/// composite keys).
pub async fn order_lines(tx: &mut TenantTx, order: i64) -> Result<Vec<OrderLineView>> {
    tenancy_sqlx::query_as!(
        OrderLineView,
        "SELECT l.line_no, p.sku, l.qty, l.qty * l.price_cents AS \"amount_cents!\"
           FROM orders o
           JOIN order_lines l ON l.tenant_id = o.tenant_id AND l.order_id = o.id
           JOIN products p ON p.tenant_id = l.tenant_id AND p.id = l.product_id
          WHERE o.tenant_id = $tenant AND o.id = $1
          ORDER BY l.line_no",
        order,
    )
    .fetch_all(tx)
    .await
}

/// Records a payment.
pub async fn record_payment(
    tx: &mut TenantTx,
    id: i64,
    order: i64,
    amount_cents: i64,
) -> Result<()> {
    tenancy_sqlx::query!(
        "INSERT INTO payments (tenant_id, id, order_id, amount_cents) VALUES ($tenant, $1, $2, $3)",
        id,
        order,
        amount_cents,
    )
    .execute(tx)
    .await?;
    Ok(())
}

/// A customer's orders with their totals and what was paid (scalar
/// subqueries, a LEFT JOIN onto an aggregate).
pub async fn customer_orders(tx: &mut TenantTx, customer: i64) -> Result<Vec<OrderSummary>> {
    tenancy_sqlx::query_as!(
        OrderSummary,
        r#"SELECT o.id, o.status,
                  (SELECT coalesce(sum(l.qty * l.price_cents), 0)::bigint FROM order_lines l
                    WHERE l.tenant_id = o.tenant_id AND l.order_id = o.id) AS "total_cents!",
                  coalesce(paid.amount, 0)::bigint AS "paid_cents!"
             FROM orders o
             LEFT JOIN (SELECT order_id, sum(amount_cents) AS amount FROM payments
                         WHERE tenant_id = $tenant GROUP BY order_id) paid ON paid.order_id = o.id
            WHERE o.tenant_id = $tenant AND o.customer_id = $1
            ORDER BY o.id"#,
        customer,
    )
    .fetch_all(tx)
    .await
}

/// Open orders with no payment at all, oldest first (`LEFT JOIN ... IS NULL`).
pub async fn unpaid_orders(tx: &mut TenantTx) -> Result<Vec<i64>> {
    tenancy_sqlx::query_scalar!(
        "SELECT o.id FROM orders o
           LEFT JOIN payments p ON p.tenant_id = o.tenant_id AND p.order_id = o.id
          WHERE o.tenant_id = $tenant AND o.status = 'open' AND p.id IS NULL
          ORDER BY o.placed_on, o.id",
    )
    .fetch_all(tx)
    .await
}

/// Marks the orders whose payments cover their total as paid
/// (`UPDATE ... FROM` an aggregate).
pub async fn close_paid_orders(tx: &mut TenantTx) -> Result<u64> {
    Ok(tenancy_sqlx::query!(
        "UPDATE orders o SET status = 'paid'
           FROM (SELECT l.order_id, sum(l.qty * l.price_cents) AS total
                   FROM order_lines l WHERE l.tenant_id = $tenant GROUP BY l.order_id) t
          WHERE o.tenant_id = $tenant AND o.id = t.order_id AND o.status = 'open'
            AND t.total <= (SELECT coalesce(sum(p.amount_cents), 0) FROM payments p
                             WHERE p.tenant_id = o.tenant_id AND p.order_id = o.id)",
    )
    .execute(tx)
    .await?
    .rows_affected())
}

/// Deletes an order and, first, its payments and lines, in one statement
/// (data-modifying CTEs).
pub async fn delete_order(tx: &mut TenantTx, order: i64) -> Result<Option<i64>> {
    tenancy_sqlx::query_scalar!(
        "WITH gone_payments AS (DELETE FROM payments WHERE tenant_id = $tenant AND order_id = $1),
              gone_lines AS (DELETE FROM order_lines WHERE tenant_id = $tenant AND order_id = $1)
         DELETE FROM orders WHERE tenant_id = $tenant AND id = $1 RETURNING id",
        order,
    )
    .fetch_optional(tx)
    .await
}

/// Deletes the lines of every order of a customer (`DELETE ... USING`).
pub async fn delete_customer_lines(tx: &mut TenantTx, customer: i64) -> Result<u64> {
    Ok(tenancy_sqlx::query!(
        "DELETE FROM order_lines l USING orders o
          WHERE l.tenant_id = $tenant AND o.tenant_id = l.tenant_id
            AND o.id = l.order_id AND o.customer_id = $1",
        customer,
    )
    .execute(tx)
    .await?
    .rows_affected())
}

// ---- Reports ---------------------------------------------------------------

/// Revenue per day between two dates (GROUP BY over a join).
pub async fn revenue_per_day(tx: &mut TenantTx, from: &str, to: &str) -> Result<Vec<DayRevenue>> {
    tenancy_sqlx::query_as!(
        DayRevenue,
        r#"SELECT o.placed_on::text AS "day!", sum(l.qty * l.price_cents)::bigint AS "revenue_cents!"
             FROM orders o JOIN order_lines l USING (tenant_id)
            WHERE o.tenant_id = $tenant AND l.order_id = o.id
              AND o.placed_on BETWEEN $1::text::date AND $2::text::date
            GROUP BY o.placed_on ORDER BY o.placed_on"#,
        from,
        to,
    )
    .fetch_all(tx)
    .await
}

/// The best-selling products, ranked by revenue within their category
/// (window functions over an aggregate).
pub async fn top_products(tx: &mut TenantTx, per_category: i64) -> Result<Vec<ProductRank>> {
    tenancy_sqlx::query_as!(
        ProductRank,
        r#"SELECT category_id AS "category_id!", sku AS "sku!", revenue AS "revenue_cents!", rank AS "rank!"
             FROM (SELECT p.category_id, p.sku, sum(l.qty * l.price_cents)::bigint AS revenue,
                          rank() OVER (PARTITION BY p.category_id
                                       ORDER BY sum(l.qty * l.price_cents) DESC, p.sku) AS rank
                     FROM products p
                     JOIN order_lines l ON l.tenant_id = p.tenant_id AND l.product_id = p.id
                    WHERE p.tenant_id = $tenant
                    GROUP BY p.category_id, p.sku) ranked
            WHERE rank <= $1
            ORDER BY category_id, rank"#,
        per_category,
    )
    .fetch_all(tx)
    .await
}

/// What each customer spent, and their share of the shop's revenue (a CTE
/// read twice).
pub async fn customer_values(tx: &mut TenantTx) -> Result<Vec<CustomerValue>> {
    tenancy_sqlx::query_as!(
        CustomerValue,
        r#"WITH spent AS (
             SELECT o.customer_id, sum(l.qty * l.price_cents)::bigint AS cents
               FROM orders o
               JOIN order_lines l ON l.tenant_id = o.tenant_id AND l.order_id = o.id
              WHERE o.tenant_id = $tenant
              GROUP BY o.customer_id
           )
           SELECT c.name AS "name!", s.cents AS "spent_cents!",
                  (100 * s.cents / (SELECT sum(cents) FROM spent))::bigint AS "percent!"
             FROM spent s JOIN customers c ON c.tenant_id = $tenant AND c.id = s.customer_id
            ORDER BY s.cents DESC, c.name"#,
    )
    .fetch_all(tx)
    .await
}

/// Orders above the shop's average order value (a subquery over a derived
/// table in WHERE).
pub async fn orders_above_average(tx: &mut TenantTx) -> Result<Vec<i64>> {
    tenancy_sqlx::query_scalar!(
        "SELECT l.order_id FROM order_lines l
          WHERE l.tenant_id = $tenant
          GROUP BY l.order_id
         HAVING sum(l.qty * l.price_cents) >
                (SELECT avg(total) FROM (SELECT sum(qty * price_cents) AS total FROM order_lines
                                          WHERE tenant_id = $tenant GROUP BY order_id) t)
          ORDER BY l.order_id",
    )
    .fetch_all(tx)
    .await
}

/// How many orders per status, and all of them (`UNION ALL`).
pub async fn orders_by_status(tx: &mut TenantTx) -> Result<Vec<(String, i64)>> {
    let rows = tenancy_sqlx::query!(
        r#"SELECT status AS "status!", count(*) AS "n!" FROM orders WHERE tenant_id = $tenant GROUP BY status
           UNION ALL
           SELECT 'all', count(*) FROM orders WHERE tenant_id = $tenant
           ORDER BY 1"#,
    )
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.status, r.n)).collect())
}

/// The last three lines of each of a customer's orders (`LATERAL`).
pub async fn recent_lines(tx: &mut TenantTx, customer: i64) -> Result<Vec<(i64, i32)>> {
    let rows = tenancy_sqlx::query!(
        r#"SELECT o.id AS "order_id!", last.line_no AS "line_no!"
             FROM orders o,
                  LATERAL (SELECT l.line_no FROM order_lines l
                            WHERE l.tenant_id = o.tenant_id AND l.order_id = o.id
                            ORDER BY l.line_no DESC LIMIT 3) last
            WHERE o.tenant_id = $tenant AND o.customer_id = $1
            ORDER BY 1, 2"#,
        customer,
    )
    .fetch_all(tx)
    .await?;
    Ok(rows.into_iter().map(|r| (r.order_id, r.line_no)).collect())
}

/// Sets the prices of the listed SKUs, adding the products that are
/// missing (`MERGE`).
pub async fn sync_prices(
    tx: &mut TenantTx,
    category: i64,
    skus: &[String],
    prices: &[i64],
) -> Result<u64> {
    Ok(tenancy_sqlx::query!(
        "MERGE INTO products p
         USING (SELECT s.sku, s.price,
                       (SELECT coalesce(max(id), 0) FROM products WHERE tenant_id = $tenant)
                         + row_number() OVER (ORDER BY s.sku) AS new_id
                  FROM unnest($2::text[], $3::bigint[]) AS s (sku, price)) s
            ON p.tenant_id = $tenant AND p.sku = s.sku
          WHEN MATCHED THEN UPDATE SET price_cents = s.price, updated_at = now()
          WHEN NOT MATCHED THEN
               INSERT (tenant_id, id, category_id, sku, name, price_cents)
               VALUES ($tenant, s.new_id, $1, s.sku, s.sku, s.price)",
        category,
        skus,
        prices,
    )
    .execute(tx)
    .await?
    .rows_affected())
}

/// The currencies every tenant may use (a shared table: no `$tenant`).
pub async fn currencies(tx: &mut TenantTx) -> Result<Vec<String>> {
    tenancy_sqlx::query_scalar!("SELECT code FROM currencies ORDER BY code")
        .fetch_all(tx)
        .await
}

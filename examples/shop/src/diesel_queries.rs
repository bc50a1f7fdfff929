//! The shop's queries again, with tenancy-diesel: the same names, the same
//! answers (the tests compare them with [`queries`](crate::queries)).
//!
//! Every statement runs through [`for_tenant`](tenancy_diesel::ForTenantDsl),
//! a scoped join or a tenant insert, except the three marked **raw**
//! (a recursive CTE, window functions, a shared table), which run on
//! `dangerous_raw_connection()` where row-level security alone protects them. Where
//! diesel's DSL has no `UPDATE ... FROM`, data-modifying CTE, `MERGE` or
//! `LATERAL`, the function runs several scoped statements in the same
//! transaction and finishes in Rust. Aggregates over products of two
//! columns use small typed `dsl::sql` fragments, inside a scoped query.

use std::collections::BTreeMap;

use diesel::dsl::{count_star, max, sql};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Bool, Date, Int4, Int8, Text};
use diesel::upsert::excluded;
use serde_json::Value as Json;
use tenancy_diesel::{ForTenantDsl, Result, TenantTx};

use crate::diesel_schema::{
    categories, currencies, customers, order_lines, orders, payments, products,
};
use crate::model::{
    CategoryPath, Customer, CustomerValue, DayRevenue, OrderLineView, OrderSummary, Product,
    ProductRank,
};

fn customer((id, name, email): (i64, String, String)) -> Customer {
    Customer { id, name, email }
}

fn product((id, sku, name, price_cents): (i64, String, String, i64)) -> Product {
    Product {
        id,
        sku,
        name,
        price_cents,
    }
}

/// `qty * price_cents` summed, as a bigint (a typed fragment: diesel's
/// `sum` of a bigint is a numeric).
fn line_total() -> diesel::expression::SqlLiteral<BigInt> {
    sql::<BigInt>("sum(order_lines.qty * order_lines.price_cents)::bigint")
}

// ---- Customers -------------------------------------------------------------

/// See [`queries::upsert_customer`](crate::queries::upsert_customer).
pub fn upsert_customer(tx: &mut TenantTx<'_>, id: i64, name: &str, email: &str) -> Result<i64> {
    let ids: Vec<i64> = tx.insert_returning(
        diesel::insert_into(customers::table)
            .values((
                customers::id.eq(id),
                customers::name.eq(name),
                customers::email.eq(email),
            ))
            .on_conflict((customers::tenant_id, customers::id))
            .do_update()
            .set((
                customers::name.eq(excluded(customers::name)),
                customers::email.eq(excluded(customers::email)),
            ))
            .returning(customers::id),
    )?;
    Ok(ids.first().copied().unwrap_or(id))
}

/// See [`queries::customer_by_email`](crate::queries::customer_by_email).
pub fn customer_by_email(tx: &mut TenantTx<'_>, email: &str) -> Result<Option<Customer>> {
    let t = tx.tenant().clone();
    let row = tx.fetch_optional(
        customers::table
            .for_tenant(&t)
            .filter(customers::email.eq(email))
            .select((customers::id, customers::name, customers::email)),
    )?;
    Ok(row.map(customer))
}

/// See [`queries::customers_page`](crate::queries::customers_page).
pub fn customers_page(tx: &mut TenantTx<'_>, after: i64, limit: i64) -> Result<Vec<Customer>> {
    let t = tx.tenant().clone();
    let rows = tx.fetch_all(
        customers::table
            .for_tenant(&t)
            .filter(customers::id.gt(after))
            .order(customers::id)
            .limit(limit)
            .select((customers::id, customers::name, customers::email)),
    )?;
    Ok(rows.into_iter().map(customer).collect())
}

/// See [`queries::delete_customer`](crate::queries::delete_customer).
pub fn delete_customer(tx: &mut TenantTx<'_>, id: i64) -> Result<u64> {
    let t = tx.tenant().clone();
    let n = tx.execute_scoped(
        diesel::delete(customers::table)
            .for_tenant(&t)
            .filter(customers::id.eq(id)),
    )?;
    Ok(n as u64)
}

// ---- Catalog ---------------------------------------------------------------

/// See [`queries::insert_category`](crate::queries::insert_category).
pub fn insert_category(
    tx: &mut TenantTx<'_>,
    id: i64,
    parent: Option<i64>,
    name: &str,
) -> Result<()> {
    tx.insert(diesel::insert_into(categories::table).values((
        categories::id.eq(id),
        categories::parent_id.eq(parent),
        categories::name.eq(name),
    )))?;
    Ok(())
}

#[derive(QueryableByName)]
struct TreeRow {
    #[diesel(sql_type = Int8)]
    id: i64,
    #[diesel(sql_type = Text)]
    path: String,
    #[diesel(sql_type = Int4)]
    depth: i32,
}

/// See [`queries::category_tree`](crate::queries::category_tree). **Raw**:
/// diesel has no recursive CTE.
pub fn category_tree(tx: &mut TenantTx<'_>, root: i64) -> Result<Vec<CategoryPath>> {
    let rows: Vec<TreeRow> = diesel::sql_query(
        "WITH RECURSIVE tree (id, path, depth) AS (
             SELECT id, name, 0 FROM categories WHERE id = $1
             UNION ALL
             SELECT c.id, t.path || ' / ' || c.name, t.depth + 1
               FROM categories c JOIN tree t ON c.parent_id = t.id
           )
           SELECT id, path, depth FROM tree ORDER BY path",
    )
    .bind::<Int8, _>(root)
    .load(tx.dangerous_raw_connection())?;
    Ok(rows
        .into_iter()
        .map(|r| CategoryPath {
            id: r.id,
            path: r.path,
            depth: r.depth,
        })
        .collect())
}

/// See [`queries::insert_product`](crate::queries::insert_product).
pub fn insert_product(
    tx: &mut TenantTx<'_>,
    id: i64,
    category: i64,
    sku: &str,
    name: &str,
    price_cents: i64,
    attrs: Json,
) -> Result<()> {
    tx.insert(diesel::insert_into(products::table).values((
        products::id.eq(id),
        products::category_id.eq(category),
        products::sku.eq(sku),
        products::name.eq(name),
        products::price_cents.eq(price_cents),
        products::attrs.eq(attrs),
    )))?;
    Ok(())
}

/// See [`queries::products_matching`](crate::queries::products_matching).
pub fn products_matching(tx: &mut TenantTx<'_>, filter: Json) -> Result<Vec<Product>> {
    use diesel::expression_methods::PgJsonbExpressionMethods;
    let t = tx.tenant().clone();
    let rows = tx.fetch_all(
        products::table
            .for_tenant(&t)
            .filter(products::attrs.contains(filter))
            .order((products::price_cents, products::id))
            .select((
                products::id,
                products::sku,
                products::name,
                products::price_cents,
            )),
    )?;
    Ok(rows.into_iter().map(product).collect())
}

/// See [`queries::products_page`](crate::queries::products_page).
pub fn products_page(tx: &mut TenantTx<'_>, limit: i64, offset: i64) -> Result<Vec<Product>> {
    let t = tx.tenant().clone();
    let rows = tx.fetch_all(
        products::table
            .for_tenant(&t)
            .order(products::sku)
            .limit(limit)
            .offset(offset)
            .select((
                products::id,
                products::sku,
                products::name,
                products::price_cents,
            )),
    )?;
    Ok(rows.into_iter().map(product).collect())
}

/// See [`queries::raise_prices`](crate::queries::raise_prices): the
/// categories first, then one `UPDATE` with `= ANY`.
pub fn raise_prices(tx: &mut TenantTx<'_>, category: i64, percent: i64) -> Result<u64> {
    let t = tx.tenant().clone();
    let ids: Vec<i64> = tx.fetch_all(
        categories::table
            .for_tenant(&t)
            .filter(
                categories::id
                    .eq(category)
                    .or(categories::parent_id.eq(category)),
            )
            .select(categories::id),
    )?;
    let n = tx.execute_scoped(
        diesel::update(products::table)
            .set((
                products::price_cents.eq(products::price_cents * (100 + percent) / 100),
                products::updated_at.eq(diesel::dsl::now),
            ))
            .for_tenant(&t)
            .filter(products::category_id.eq_any(ids)),
    )?;
    Ok(n as u64)
}

/// See [`queries::products_never_sold`](crate::queries::products_never_sold):
/// a scoped `LEFT JOIN ... IS NULL`.
pub fn products_never_sold(tx: &mut TenantTx<'_>) -> Result<Vec<Product>> {
    let t = tx.tenant().clone();
    let rows = tx.fetch_all(
        products::table
            .for_tenant(&t)
            .left_join(order_lines::table, order_lines::product_id.eq(products::id))
            .filter(order_lines::order_id.nullable().is_null())
            .order(products::id)
            .select((
                products::id,
                products::sku,
                products::name,
                products::price_cents,
            )),
    )?;
    Ok(rows.into_iter().map(product).collect())
}

// ---- Orders ----------------------------------------------------------------

/// See [`queries::insert_order`](crate::queries::insert_order): nothing is
/// inserted for an unknown customer (the currency's foreign key checks it).
pub fn insert_order(
    tx: &mut TenantTx<'_>,
    id: i64,
    customer: i64,
    currency: &str,
    placed_on: &str,
) -> Result<()> {
    let t = tx.tenant().clone();
    let known: Option<i64> = tx.fetch_optional(
        customers::table
            .for_tenant(&t)
            .filter(customers::id.eq(customer))
            .select(customers::id),
    )?;
    if known.is_some() {
        tx.insert(diesel::insert_into(orders::table).values((
            orders::id.eq(id),
            orders::customer_id.eq(customer),
            orders::currency.eq(currency),
            orders::placed_on.eq(sql::<Date>("").bind::<Text, _>(placed_on).sql("::date")),
        )))?;
    }
    Ok(())
}

/// See [`queries::add_line`](crate::queries::add_line): the price first.
pub fn add_line(
    tx: &mut TenantTx<'_>,
    order: i64,
    line_no: i32,
    product: i64,
    qty: i32,
) -> Result<u64> {
    let t = tx.tenant().clone();
    let price: Option<i64> = tx.fetch_optional(
        products::table
            .for_tenant(&t)
            .filter(products::id.eq(product))
            .select(products::price_cents),
    )?;
    let Some(price) = price else { return Ok(0) };
    let n = tx.insert(diesel::insert_into(order_lines::table).values((
        order_lines::order_id.eq(order),
        order_lines::line_no.eq(line_no),
        order_lines::product_id.eq(product),
        order_lines::qty.eq(qty),
        order_lines::price_cents.eq(price),
    )))?;
    Ok(n as u64)
}

/// See [`queries::order_lines`](crate::queries::order_lines): two scoped
/// joins on the composite keys.
pub fn order_lines(tx: &mut TenantTx<'_>, order: i64) -> Result<Vec<OrderLineView>> {
    let t = tx.tenant().clone();
    let rows: Vec<(i32, String, i32, i64)> = tx.fetch_all(
        orders::table
            .for_tenant(&t)
            .inner_join(order_lines::table, order_lines::order_id.eq(orders::id))
            .inner_join(products::table, products::id.eq(order_lines::product_id))
            .filter(orders::id.eq(order))
            .order(order_lines::line_no)
            .select((
                order_lines::line_no,
                products::sku,
                order_lines::qty,
                order_lines::price_cents,
            )),
    )?;
    Ok(rows
        .into_iter()
        .map(|(line_no, sku, qty, price)| OrderLineView {
            line_no,
            sku,
            qty,
            amount_cents: i64::from(qty) * price,
        })
        .collect())
}

/// See [`queries::record_payment`](crate::queries::record_payment).
pub fn record_payment(tx: &mut TenantTx<'_>, id: i64, order: i64, amount_cents: i64) -> Result<()> {
    tx.insert(diesel::insert_into(payments::table).values((
        payments::id.eq(id),
        payments::order_id.eq(order),
        payments::amount_cents.eq(amount_cents),
    )))?;
    Ok(())
}

/// Totals of the tenant's orders (sum of their lines), by order.
fn order_totals(tx: &mut TenantTx<'_>) -> Result<BTreeMap<i64, i64>> {
    let t = tx.tenant().clone();
    let rows: Vec<(i64, i64)> = tx.fetch_all(
        order_lines::table
            .for_tenant(&t)
            .group_by(order_lines::order_id)
            .select((order_lines::order_id, line_total())),
    )?;
    Ok(rows.into_iter().collect())
}

/// What was paid on the tenant's orders, by order.
fn order_payments(tx: &mut TenantTx<'_>) -> Result<BTreeMap<i64, i64>> {
    let t = tx.tenant().clone();
    let rows: Vec<(i64, i64)> = tx.fetch_all(
        payments::table
            .for_tenant(&t)
            .group_by(payments::order_id)
            .select((
                payments::order_id,
                sql::<BigInt>("sum(payments.amount_cents)::bigint"),
            )),
    )?;
    Ok(rows.into_iter().collect())
}

/// See [`queries::customer_orders`](crate::queries::customer_orders): the
/// orders, their totals and payments, three scoped queries.
pub fn customer_orders(tx: &mut TenantTx<'_>, customer: i64) -> Result<Vec<OrderSummary>> {
    let t = tx.tenant().clone();
    let rows: Vec<(i64, String)> = tx.fetch_all(
        orders::table
            .for_tenant(&t)
            .filter(orders::customer_id.eq(customer))
            .order(orders::id)
            .select((orders::id, orders::status)),
    )?;
    let (totals, paid) = (order_totals(tx)?, order_payments(tx)?);
    Ok(rows
        .into_iter()
        .map(|(id, status)| OrderSummary {
            id,
            status,
            total_cents: totals.get(&id).copied().unwrap_or(0),
            paid_cents: paid.get(&id).copied().unwrap_or(0),
        })
        .collect())
}

/// See [`queries::unpaid_orders`](crate::queries::unpaid_orders).
pub fn unpaid_orders(tx: &mut TenantTx<'_>) -> Result<Vec<i64>> {
    let t = tx.tenant().clone();
    tx.fetch_all(
        orders::table
            .for_tenant(&t)
            .left_join(payments::table, payments::order_id.eq(orders::id))
            .filter(
                orders::status
                    .eq("open")
                    .and(payments::id.nullable().is_null()),
            )
            .order((orders::placed_on, orders::id))
            .select(orders::id),
    )
}

/// See [`queries::close_paid_orders`](crate::queries::close_paid_orders):
/// totals and payments, then one `UPDATE` with `= ANY`.
pub fn close_paid_orders(tx: &mut TenantTx<'_>) -> Result<u64> {
    let t = tx.tenant().clone();
    let (totals, paid) = (order_totals(tx)?, order_payments(tx)?);
    let covered: Vec<i64> = totals
        .iter()
        .filter(|(id, total)| **total <= paid.get(id).copied().unwrap_or(0))
        .map(|(id, _)| *id)
        .collect();
    let n = tx.execute_scoped(
        diesel::update(orders::table)
            .set(orders::status.eq("paid"))
            .for_tenant(&t)
            .filter(orders::status.eq("open").and(orders::id.eq_any(covered))),
    )?;
    Ok(n as u64)
}

/// See [`queries::delete_order`](crate::queries::delete_order): three
/// scoped deletes.
pub fn delete_order(tx: &mut TenantTx<'_>, order: i64) -> Result<Option<i64>> {
    let t = tx.tenant().clone();
    tx.execute_scoped(
        diesel::delete(payments::table)
            .for_tenant(&t)
            .filter(payments::order_id.eq(order)),
    )?;
    tx.execute_scoped(
        diesel::delete(order_lines::table)
            .for_tenant(&t)
            .filter(order_lines::order_id.eq(order)),
    )?;
    let n = tx.execute_scoped(
        diesel::delete(orders::table)
            .for_tenant(&t)
            .filter(orders::id.eq(order)),
    )?;
    Ok((n > 0).then_some(order))
}

/// See [`queries::delete_customer_lines`](crate::queries::delete_customer_lines).
pub fn delete_customer_lines(tx: &mut TenantTx<'_>, customer: i64) -> Result<u64> {
    let t = tx.tenant().clone();
    let ids: Vec<i64> = tx.fetch_all(
        orders::table
            .for_tenant(&t)
            .filter(orders::customer_id.eq(customer))
            .select(orders::id),
    )?;
    let n = tx.execute_scoped(
        diesel::delete(order_lines::table)
            .for_tenant(&t)
            .filter(order_lines::order_id.eq_any(ids)),
    )?;
    Ok(n as u64)
}

// ---- Reports ---------------------------------------------------------------

/// See [`queries::revenue_per_day`](crate::queries::revenue_per_day).
pub fn revenue_per_day(tx: &mut TenantTx<'_>, from: &str, to: &str) -> Result<Vec<DayRevenue>> {
    let t = tx.tenant().clone();
    let rows: Vec<(String, i64)> = tx.fetch_all(
        orders::table
            .for_tenant(&t)
            .inner_join(order_lines::table, order_lines::order_id.eq(orders::id))
            .filter(
                sql::<Bool>("orders.placed_on BETWEEN ")
                    .bind::<Text, _>(from)
                    .sql("::date AND ")
                    .bind::<Text, _>(to)
                    .sql("::date"),
            )
            .group_by(orders::placed_on)
            .order(orders::placed_on)
            .select((sql::<Text>("orders.placed_on::text"), line_total())),
    )?;
    Ok(rows
        .into_iter()
        .map(|(day, revenue_cents)| DayRevenue { day, revenue_cents })
        .collect())
}

#[derive(QueryableByName)]
struct RankRow {
    #[diesel(sql_type = Int8)]
    category_id: i64,
    #[diesel(sql_type = Text)]
    sku: String,
    #[diesel(sql_type = Int8)]
    revenue: i64,
    #[diesel(sql_type = Int8)]
    rank: i64,
}

/// See [`queries::top_products`](crate::queries::top_products). **Raw**:
/// diesel has no window functions.
pub fn top_products(tx: &mut TenantTx<'_>, per_category: i64) -> Result<Vec<ProductRank>> {
    let rows: Vec<RankRow> = diesel::sql_query(
        "SELECT category_id, sku, revenue, rank
           FROM (SELECT p.category_id, p.sku, sum(l.qty * l.price_cents)::bigint AS revenue,
                        rank() OVER (PARTITION BY p.category_id
                                     ORDER BY sum(l.qty * l.price_cents) DESC, p.sku) AS rank
                   FROM products p JOIN order_lines l ON l.product_id = p.id
                  GROUP BY p.category_id, p.sku) ranked
          WHERE rank <= $1
          ORDER BY category_id, rank",
    )
    .bind::<Int8, _>(per_category)
    .load(tx.dangerous_raw_connection())?;
    Ok(rows
        .into_iter()
        .map(|r| ProductRank {
            category_id: r.category_id,
            sku: r.sku,
            revenue_cents: r.revenue,
            rank: r.rank,
        })
        .collect())
}

/// See [`queries::customer_values`](crate::queries::customer_values): the
/// sums by customer, the shares in Rust (rounded as PostgreSQL rounds).
pub fn customer_values(tx: &mut TenantTx<'_>) -> Result<Vec<CustomerValue>> {
    let t = tx.tenant().clone();
    let rows: Vec<(String, i64)> = tx.fetch_all(
        orders::table
            .for_tenant(&t)
            .inner_join(order_lines::table, order_lines::order_id.eq(orders::id))
            .inner_join(customers::table, customers::id.eq(orders::customer_id))
            .group_by((customers::id, customers::name))
            .select((customers::name, line_total())),
    )?;
    let total: i64 = rows.iter().map(|(_, cents)| cents).sum();
    let mut values: Vec<CustomerValue> = rows
        .into_iter()
        .map(|(name, spent_cents)| CustomerValue {
            name,
            spent_cents,
            // round(100 * spent / total), half away from zero, in integers.
            percent: (200 * spent_cents + total) / (2 * total.max(1)),
        })
        .collect();
    values.sort_by(|a, b| {
        b.spent_cents
            .cmp(&a.spent_cents)
            .then_with(|| a.name.cmp(&b.name))
    });
    Ok(values)
}

/// See [`queries::orders_above_average`](crate::queries::orders_above_average).
pub fn orders_above_average(tx: &mut TenantTx<'_>) -> Result<Vec<i64>> {
    let totals = order_totals(tx)?;
    let (sum, n) = (
        totals.values().sum::<i64>(),
        i64::try_from(totals.len()).unwrap_or(i64::MAX),
    );
    // total > sum / n, without rounding.
    Ok(totals
        .into_iter()
        .filter(|(_, total)| total * n > sum)
        .map(|(id, _)| id)
        .collect())
}

/// See [`queries::orders_by_status`](crate::queries::orders_by_status).
pub fn orders_by_status(tx: &mut TenantTx<'_>) -> Result<Vec<(String, i64)>> {
    let t = tx.tenant().clone();
    let mut rows: Vec<(String, i64)> = tx.fetch_all(
        orders::table
            .for_tenant(&t)
            .group_by(orders::status)
            .select((orders::status, count_star())),
    )?;
    let all = rows.iter().map(|(_, n)| n).sum();
    rows.push(("all".to_owned(), all));
    rows.sort();
    Ok(rows)
}

/// See [`queries::recent_lines`](crate::queries::recent_lines): the lines
/// newest first, the first three of each order kept in Rust.
pub fn recent_lines(tx: &mut TenantTx<'_>, customer: i64) -> Result<Vec<(i64, i32)>> {
    let t = tx.tenant().clone();
    let rows: Vec<(i64, i32)> = tx.fetch_all(
        orders::table
            .for_tenant(&t)
            .inner_join(order_lines::table, order_lines::order_id.eq(orders::id))
            .filter(orders::customer_id.eq(customer))
            .order((orders::id, order_lines::line_no.desc()))
            .select((orders::id, order_lines::line_no)),
    )?;
    let mut kept: Vec<(i64, i32)> = Vec::new();
    for (order, line) in rows {
        if kept.iter().filter(|(o, _)| *o == order).count() < 3 {
            kept.push((order, line));
        }
    }
    kept.sort_unstable();
    Ok(kept)
}

/// See [`queries::sync_prices`](crate::queries::sync_prices): one upsert
/// per SKU, new ids after the tenant's largest.
pub fn sync_prices(
    tx: &mut TenantTx<'_>,
    category: i64,
    skus: &[String],
    prices: &[i64],
) -> Result<u64> {
    let t = tx.tenant().clone();
    let largest: Vec<Option<i64>> =
        tx.fetch_all(products::table.for_tenant(&t).select(max(products::id)))?;
    let largest = largest.first().copied().flatten().unwrap_or(0);
    let mut pairs: Vec<(&String, &i64)> = skus.iter().zip(prices).collect();
    pairs.sort();
    let mut n = 0;
    for (next, (sku, price)) in (1..).zip(pairs) {
        n += tx.insert(
            diesel::insert_into(products::table)
                .values((
                    products::id.eq(largest + next),
                    products::category_id.eq(category),
                    products::sku.eq(sku),
                    products::name.eq(sku),
                    products::price_cents.eq(price),
                ))
                .on_conflict((products::tenant_id, products::sku))
                .do_update()
                .set((
                    products::price_cents.eq(excluded(products::price_cents)),
                    products::updated_at.eq(diesel::dsl::now),
                )),
        )?;
    }
    Ok(n as u64)
}

/// See [`queries::currencies`](crate::queries::currencies). **Raw**: a
/// tenant transaction runs only tenant-scoped diesel queries, and
/// `currencies` is shared.
pub fn currencies(tx: &mut TenantTx<'_>) -> Result<Vec<String>> {
    Ok(currencies::table
        .order(currencies::code)
        .select(currencies::code)
        .load(tx.dangerous_raw_connection())?)
}

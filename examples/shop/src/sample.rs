//! Sample data: a small shop with categories, products, customers,
//! orders, lines and payments, for the tests, the benchmark and trying the
//! queries out.

use serde_json::json;
use tenancy_sqlx::{Result, TenantTx};

use crate::queries as q;

/// An order to seed: id, customer, day, and its lines (product, quantity).
type Order<'a> = (i64, i64, &'a str, &'a [(i64, i32)]);

/// A shop's data; `k` makes each tenant's names, prices and quantities
/// differ, while ids are the same (composite keys allow it).
pub async fn seed(tx: &mut TenantTx, k: i32) -> Result<()> {
    let name = |s: &str| format!("{s}-{k}");
    q::insert_category(tx, 1, None, &name("Food")).await?;
    q::insert_category(tx, 2, Some(1), &name("Drinks")).await?;
    q::insert_category(tx, 3, Some(2), &name("Hot")).await?;
    q::insert_category(tx, 4, None, &name("Merch")).await?;
    for (id, cat, sku, price, attrs) in [
        (1, 1, "burger", 800, json!({"vegan": false})),
        (2, 1, "salad", 650, json!({"vegan": true})),
        (3, 2, "cola", 250, json!({"vegan": true, "size": "l"})),
        (4, 3, "coffee", 300, json!({"vegan": true})),
        (5, 4, "mug", 1200, json!({})),
    ] {
        let sku = name(sku);
        q::insert_product(tx, id, cat, &sku, &sku, price * i64::from(k), attrs).await?;
    }
    for id in 1..=3 {
        let customer = name(&format!("customer{id}"));
        q::upsert_customer(tx, id, &customer, &format!("{customer}@example.com")).await?;
    }
    // (order, customer, day, [(product, quantity)])
    let orders: [Order<'_>; 5] = [
        (1, 1, "2026-11-20", &[(1, 2), (3, 2)]),
        (2, 1, "2026-11-21", &[(4, 1)]),
        (3, 2, "2026-11-21", &[(1, 1), (2, 1), (3, 3), (4, 2)]),
        (4, 3, "2026-11-22", &[(2, 4)]),
        (5, 2, "2026-11-23", &[]),
    ];
    for (id, customer, day, lines) in orders {
        q::insert_order(tx, id, customer, "EUR", day).await?;
        for (no, (product, qty)) in (1..).zip(lines.iter()) {
            q::add_line(tx, id, no, *product, *qty * k).await?;
        }
    }
    q::record_payment(tx, 1, 1, 2100 * i64::from(k * k)).await?;
    q::record_payment(tx, 2, 3, 100).await?;
    Ok(())
}

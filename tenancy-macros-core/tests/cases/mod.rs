//! Query shapes of a point-of-sale app, shared by the checker's tests.

use tenancy_macros_core::{Manifest, TableEntry};

/// The point-of-sale app's tables, as the macros' manifest describes them.
pub(crate) fn manifest() -> Manifest {
    let tenant = |t| TableEntry::tenant("public", t, "tenant_id");
    Manifest::new(vec![
        tenant("customers"),
        tenant("products"),
        tenant("orders"),
        tenant("order_lines"),
        tenant("payments"),
        tenant("categories"),
        TableEntry::shared("public", "plans"),
        // Its tenant column is org_id; it also has a plain tenant_id column.
        TableEntry::tenant("public", "ledger", "org_id"),
    ])
}

/// Statements the checker must accept, each with sample arguments: SQL
/// literals that PostgreSQL types as it types the macros' arguments
/// (`accepted_on_postgres.rs` runs every statement with them).
pub(crate) const ACCEPTED: &[(&str, &[&str])] = &[
    ("SELECT * FROM orders WHERE tenant_id = $tenant", &[]),
    (
        "SELECT * FROM orders o WHERE o.tenant_id = $tenant::uuid AND o.id = $1",
        &["1"],
    ),
    ("SELECT * FROM orders o WHERE $tenant = o.tenant_id", &[]),
    (
        "SELECT * FROM public.orders WHERE public.orders.tenant_id = $tenant",
        &[],
    ),
    // Joins: ON, USING, chains, outer joins with their own ON.
    (
        "SELECT o.id, l.qty FROM orders o JOIN order_lines l ON l.tenant_id = o.tenant_id AND l.order_id = o.id WHERE o.tenant_id = $tenant",
        &[],
    ),
    (
        "SELECT * FROM orders o JOIN order_lines l USING (tenant_id) JOIN products p USING (tenant_id) WHERE o.tenant_id = $tenant",
        &[],
    ),
    (
        "SELECT * FROM orders o, order_lines l WHERE o.tenant_id = $tenant AND l.tenant_id = o.tenant_id AND l.order_id = o.id",
        &[],
    ),
    (
        "SELECT * FROM orders o LEFT JOIN payments p ON p.tenant_id = o.tenant_id AND p.order_id = o.id WHERE o.tenant_id = $tenant",
        &[],
    ),
    (
        "SELECT * FROM orders o RIGHT JOIN customers c ON o.tenant_id = c.tenant_id AND o.customer_id = c.id WHERE c.tenant_id = $tenant",
        &[],
    ),
    (
        "SELECT * FROM (SELECT * FROM orders WHERE tenant_id = $tenant) o FULL JOIN (SELECT * FROM payments WHERE tenant_id = $tenant) p ON p.order_id = o.id",
        &[],
    ),
    (
        "SELECT * FROM orders o JOIN (order_lines l JOIN products p ON p.tenant_id = l.tenant_id AND p.id = l.product_id) ON l.tenant_id = o.tenant_id WHERE o.tenant_id = $tenant",
        &[],
    ),
    (
        "SELECT * FROM orders o JOIN plans pl ON pl.id = o.plan_id WHERE o.tenant_id = $tenant",
        &[],
    ),
    // Subqueries: IN, EXISTS, scalar, LATERAL, derived.
    (
        "SELECT * FROM orders o WHERE o.tenant_id = $tenant AND o.customer_id IN (SELECT id FROM customers WHERE tenant_id = $tenant)",
        &[],
    ),
    (
        "SELECT * FROM orders o WHERE o.tenant_id = $tenant AND EXISTS (SELECT 1 FROM payments p WHERE p.tenant_id = o.tenant_id AND p.order_id = o.id)",
        &[],
    ),
    (
        "SELECT o.id, (SELECT sum(qty) FROM order_lines l WHERE l.tenant_id = o.tenant_id AND l.order_id = o.id) FROM orders o WHERE o.tenant_id = $tenant",
        &[],
    ),
    (
        "SELECT * FROM orders o, LATERAL (SELECT * FROM order_lines l WHERE l.tenant_id = o.tenant_id AND l.order_id = o.id LIMIT 3) top WHERE o.tenant_id = $tenant",
        &[],
    ),
    (
        "SELECT * FROM (SELECT * FROM orders WHERE tenant_id = $tenant) o",
        &[],
    ),
    // CTEs, recursive CTEs, set operations.
    (
        "WITH big AS (SELECT * FROM orders WHERE tenant_id = $tenant AND total > 100) SELECT * FROM big",
        &[],
    ),
    (
        "WITH RECURSIVE tree AS (SELECT id, parent_id FROM categories WHERE tenant_id = $tenant AND parent_id IS NULL UNION ALL SELECT c.id, c.parent_id FROM categories c JOIN tree t ON c.parent_id = t.id WHERE c.tenant_id = $tenant) SELECT * FROM tree",
        &[],
    ),
    (
        "SELECT id FROM orders WHERE tenant_id = $tenant UNION SELECT order_id FROM payments WHERE tenant_id = $tenant",
        &[],
    ),
    ("WITH orders AS (SELECT 1 AS id) SELECT * FROM orders", &[]),
    // Aggregates, windows, pagination, jsonb, functions.
    (
        "SELECT product_id, sum(qty), rank() OVER (ORDER BY sum(qty) DESC) FROM order_lines WHERE tenant_id = $tenant GROUP BY product_id HAVING sum(qty) > 1 ORDER BY 2 DESC LIMIT $1 OFFSET $2",
        &["2", "1"],
    ),
    (
        "SELECT * FROM products WHERE tenant_id = $tenant AND attrs @> $1 AND attrs ->> 'color' = 'red'",
        &[r#"{"size": "L"}"#],
    ),
    (
        "SELECT d::date, count(o.id) FROM generate_series($1::date, $2::date, '1 day') d LEFT JOIN orders o ON o.tenant_id = $tenant AND o.created_at::date = d::date GROUP BY 1",
        &["2026-01-01", "2026-01-05"],
    ),
    // Writes.
    (
        "INSERT INTO orders (tenant_id, customer_id, total) VALUES ($tenant, $1, $2) RETURNING id",
        &["2", "9.50"],
    ),
    (
        "INSERT INTO orders (customer_id, total) VALUES ($1, $2)",
        &["3", "1.25"],
    ),
    (
        "INSERT INTO order_lines (tenant_id, order_id, product_id, qty) SELECT $tenant, $1, p.id, 1 FROM products p WHERE p.tenant_id = $tenant AND p.sku = ANY($2)",
        &["1", "{sku-1,sku-3}"],
    ),
    (
        "INSERT INTO products (tenant_id, sku, price) VALUES ($tenant, $1, $2) ON CONFLICT (tenant_id, sku) DO UPDATE SET price = EXCLUDED.price RETURNING id",
        &["sku-1", "99"],
    ),
    (
        "INSERT INTO products (tenant_id, sku) VALUES ($tenant, $1) ON CONFLICT DO NOTHING",
        &["sku-9"],
    ),
    (
        "UPDATE products SET price = price * 2, updated_at = now() WHERE tenant_id = $tenant AND id = ANY($1)",
        &["{1,2}"],
    ),
    (
        "UPDATE orders o SET total = s.total FROM (SELECT order_id, sum(qty * price) AS total FROM order_lines WHERE tenant_id = $tenant GROUP BY order_id) s WHERE o.tenant_id = $tenant AND o.id = s.order_id",
        &[],
    ),
    (
        "UPDATE orders o SET paid = true FROM payments p WHERE o.tenant_id = $tenant AND p.tenant_id = o.tenant_id AND p.order_id = o.id RETURNING o.id",
        &[],
    ),
    (
        "DELETE FROM order_lines l USING orders o WHERE l.tenant_id = $tenant AND o.tenant_id = l.tenant_id AND o.id = l.order_id AND o.customer_id = $1",
        &["1"],
    ),
    (
        "DELETE FROM orders WHERE tenant_id = $tenant AND id = ANY($1) RETURNING id",
        &["{1,3}"],
    ),
    (
        "WITH gone AS (DELETE FROM order_lines WHERE tenant_id = $tenant AND order_id = $1 RETURNING qty) SELECT sum(qty) FROM gone",
        &["1"],
    ),
    (
        "MERGE INTO products p USING (SELECT * FROM products WHERE tenant_id = $tenant AND sku = $1) s ON p.tenant_id = $tenant AND p.id = s.id WHEN MATCHED THEN UPDATE SET price = s.price WHEN NOT MATCHED THEN INSERT (tenant_id, sku, price) VALUES ($tenant, s.sku, s.price)",
        &["sku-2"],
    ),
    // Shared tables need no tenant.
    ("SELECT * FROM plans WHERE id = $1", &["1"]),
    // A parenthesised tenant column is the same column.
    ("SELECT * FROM orders o WHERE (o.tenant_id) = $tenant", &[]),
    ("SELECT * FROM orders WHERE ((tenant_id)) = $tenant", &[]),
    // MERGE without INSERT: ON filters the source as well as the target.
    (
        "MERGE INTO orders o USING payments p ON p.tenant_id = $tenant AND o.tenant_id = $tenant AND o.id = p.order_id WHEN MATCHED THEN DELETE",
        &[],
    ),
];

/// Statements the checker must refuse, with their argument counts and a
/// part of the message.
pub(crate) const REFUSED: &[(&str, usize, &str)] = &[
    (
        "SELECT * FROM orders",
        0,
        "`orders` is not scoped to the tenant: add `orders.tenant_id = $tenant`",
    ),
    (
        "SELECT * FROM orders WHERE tenant_id = $tenant OR total > 0",
        0,
        "a condition under OR proves nothing",
    ),
    (
        "SELECT * FROM orders o WHERE o.tenant_id = $1",
        1,
        "`orders` (alias `o`) is not scoped",
    ),
    (
        "SELECT * FROM orders o WHERE o.tenant_id = o.tenant_id",
        0,
        "`orders` (alias `o`) is not scoped",
    ),
    (
        "SELECT * FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.tenant_id = $tenant",
        0,
        "`order_lines` (alias `l`) is not scoped to the tenant: add `l.tenant_id = $tenant` or join it on `l.tenant_id = o.tenant_id`",
    ),
    (
        "SELECT * FROM orders o LEFT JOIN payments p ON p.order_id = o.id WHERE o.tenant_id = $tenant",
        0,
        "`payments` (alias `p`) is not scoped to the tenant: add `p.tenant_id = $tenant` or join it on `p.tenant_id = o.tenant_id`, to its own ON clause",
    ),
    (
        "SELECT * FROM orders o LEFT JOIN payments p ON o.tenant_id = $tenant AND p.tenant_id = o.tenant_id",
        0,
        "`orders` (alias `o`) is not scoped",
    ),
    (
        "SELECT * FROM orders o JOIN order_lines l USING (order_id) WHERE o.tenant_id = $tenant",
        0,
        "`order_lines` (alias `l`) is not scoped",
    ),
    (
        "SELECT * FROM orders, order_lines WHERE tenant_id = $tenant",
        0,
        "`orders` is not scoped",
    ),
    (
        "SELECT * FROM orders o WHERE o.tenant_id = $tenant AND o.id IN (SELECT order_id FROM payments)",
        0,
        "`payments` is not scoped",
    ),
    (
        "SELECT * FROM orders o WHERE o.tenant_id = $tenant AND EXISTS (SELECT 1 FROM payments p WHERE p.order_id = o.id)",
        0,
        "`payments` (alias `p`) is not scoped",
    ),
    (
        "SELECT o.id, (SELECT count(*) FROM order_lines) FROM orders o WHERE o.tenant_id = $tenant",
        0,
        "`order_lines` is not scoped",
    ),
    (
        "SELECT * FROM orders o, LATERAL (SELECT * FROM order_lines l WHERE l.order_id = o.id) x WHERE o.tenant_id = $tenant",
        0,
        "`order_lines` (alias `l`) is not scoped",
    ),
    (
        "WITH all_orders AS (SELECT * FROM orders) SELECT * FROM all_orders",
        0,
        "`orders` is not scoped",
    ),
    (
        "SELECT id FROM orders WHERE tenant_id = $tenant UNION SELECT order_id FROM payments",
        0,
        "`payments` is not scoped",
    ),
    (
        "SELECT product_id FROM order_lines GROUP BY product_id, tenant_id HAVING tenant_id = $tenant",
        0,
        "`order_lines` is not scoped",
    ),
    (
        "SELECT id FROM orders WHERE tenant_id = $tenant UNION TABLE orders",
        0,
        "`TABLE orders` reads a whole table",
    ),
    (
        "SELECT * FROM orders o FULL JOIN payments p ON p.order_id = o.id AND p.tenant_id = $tenant AND o.tenant_id = $tenant",
        0,
        "`orders` (alias `o`) is not scoped to the tenant: add `o.tenant_id = $tenant`, to its own ON clause",
    ),
    ("UPDATE orders SET total = 0", 0, "`orders` is not scoped"),
    (
        "UPDATE orders SET tenant_id = $1 WHERE tenant_id = $tenant",
        1,
        "`orders.tenant_id` is the tenant column",
    ),
    (
        "UPDATE orders o SET total = 0 FROM payments p WHERE o.tenant_id = $tenant AND p.order_id = o.id",
        0,
        "`payments` (alias `p`) is not scoped",
    ),
    (
        "DELETE FROM order_lines WHERE order_id = $1",
        1,
        "`order_lines` is not scoped",
    ),
    (
        "DELETE FROM order_lines l USING orders o WHERE l.tenant_id = $tenant AND o.id = l.order_id",
        0,
        "`orders` (alias `o`) is not scoped",
    ),
    (
        "INSERT INTO orders (tenant_id, total) VALUES ($1, $2)",
        2,
        "sets `tenant_id` to something other than `$tenant`",
    ),
    (
        "INSERT INTO orders VALUES ($tenant, 1)",
        0,
        "name the columns of `orders`",
    ),
    (
        "INSERT INTO orders (tenant_id, total) SELECT tenant_id, total FROM orders WHERE tenant_id = $tenant",
        0,
        "sets `tenant_id` to something other than `$tenant`",
    ),
    (
        "INSERT INTO order_lines (tenant_id, order_id) SELECT $tenant, id FROM orders",
        0,
        "`orders` is not scoped",
    ),
    (
        "INSERT INTO products (tenant_id, sku) VALUES ($tenant, $1) ON CONFLICT (sku) DO UPDATE SET price = 0",
        1,
        "must name `tenant_id` among the conflict columns",
    ),
    (
        "INSERT INTO products (tenant_id, sku) VALUES ($tenant, $1) ON CONFLICT (tenant_id, sku) DO UPDATE SET tenant_id = $2",
        2,
        "is the tenant column",
    ),
    (
        "MERGE INTO products p USING products s ON p.tenant_id = $tenant AND p.sku = s.sku WHEN NOT MATCHED THEN INSERT (tenant_id, sku) VALUES ($tenant, s.sku)",
        0,
        "MERGE inserts unmatched rows of `products` (alias `s`)",
    ),
    (
        "SELECT * FROM invoices WHERE tenant_id = $tenant",
        0,
        "table `invoices` is not in the tenancy manifest (tenancy.manifest)",
    ),
    (
        "SELECT * FROM dblink('x', 'SELECT * FROM orders') AS t(id int)",
        0,
        "a function can read any table",
    ),
    (
        "SELECT * FROM orders WHERE tenant_id = $tenant; SELECT 1",
        0,
        "expected exactly one SQL statement, found 2",
    ),
    (
        "SET app.tenant_id = 'x'",
        0,
        "take one SELECT, INSERT, UPDATE, DELETE or MERGE statement",
    ),
    (
        "SELECT * FROM orders WHERE tenant_id = $tenant AND id = $2",
        1,
        "`$2` has no argument: the macro was given 1",
    ),
    (
        "SELECT * FROM orders WHERE tenant_id = $tenant_id",
        0,
        "unknown placeholder `$tenant_id`",
    ),
    ("SELEC * FROM orders", 0, "cannot parse the SQL"),
    // Subqueries outside the WHERE clause are checked like any other:
    // ORDER BY, LIMIT, VALUES, INSERT's ON CONFLICT and RETURNING.
    (
        "SELECT * FROM orders WHERE tenant_id = $tenant ORDER BY (SELECT max(id) FROM payments)",
        0,
        "`payments` is not scoped",
    ),
    (
        "SELECT * FROM orders WHERE tenant_id = $tenant LIMIT (SELECT count(*) FROM payments)",
        0,
        "`payments` is not scoped",
    ),
    (
        "VALUES ((SELECT count(*) FROM payments))",
        0,
        "`payments` is not scoped",
    ),
    (
        "INSERT INTO orders (tenant_id, total) VALUES ($tenant, 1) RETURNING (SELECT count(*) FROM payments)",
        0,
        "`payments` is not scoped",
    ),
    (
        "INSERT INTO orders (tenant_id, total) VALUES ($tenant, 1) ON CONFLICT (tenant_id, id) DO UPDATE SET total = (SELECT max(total) FROM payments)",
        0,
        "`payments` is not scoped",
    ),
    // An alias equal to the table's name is not shown as an alias.
    ("SELECT * FROM orders orders", 0, "`orders` is not scoped"),
    // USING proves a join only on the tenant column of both tables: ledger's
    // is org_id, so its tenant_id column proves nothing.
    (
        "SELECT * FROM orders o JOIN ledger l USING (tenant_id) WHERE o.tenant_id = $tenant",
        0,
        "`ledger` (alias `l`) is not scoped",
    ),
    // A schema-qualified column names its own table, not another table of
    // the same schema.
    (
        "SELECT * FROM orders, payments WHERE public.payments.tenant_id = $tenant",
        0,
        "`orders` is not scoped",
    ),
    // A correlated subquery is proven only by the outer tenant column.
    (
        "SELECT * FROM orders o WHERE o.tenant_id = $tenant AND EXISTS (SELECT 1 FROM payments p WHERE p.tenant_id = o.id)",
        0,
        "`payments` (alias `p`) is not scoped",
    ),
    (
        "SELECT * FROM orders o WHERE EXISTS (SELECT 1 FROM payments p WHERE p.tenant_id = o.tenant_id)",
        0,
        "`payments` (alias `p`) is not scoped",
    ),
    // DELETE's other tables belong in USING, in either spelling.
    (
        "DELETE orders FROM orders WHERE tenant_id = $tenant",
        0,
        "DELETE takes one table: put the others into USING",
    ),
    (
        "DELETE FROM orders JOIN payments ON true WHERE orders.tenant_id = $tenant",
        0,
        "DELETE takes one table: put the others into USING",
    ),
    // MERGE: with INSERT, ON cannot filter the source; without, an
    // unfiltered target or source gets the usual message.
    (
        "MERGE INTO orders o USING payments p ON p.tenant_id = $tenant AND o.tenant_id = $tenant AND o.id = p.order_id WHEN NOT MATCHED THEN INSERT (tenant_id, total) VALUES ($tenant, 1)",
        0,
        "MERGE inserts unmatched rows of `payments` (alias `p`), which ON cannot filter",
    ),
    (
        "MERGE INTO orders o USING payments p ON o.id = p.order_id AND p.tenant_id = $tenant WHEN MATCHED THEN DELETE",
        0,
        "`orders` (alias `o`) is not scoped",
    ),
    (
        "MERGE INTO orders o USING (SELECT * FROM payments WHERE tenant_id = $tenant) p ON o.id = p.order_id WHEN NOT MATCHED THEN INSERT (tenant_id, total) VALUES ($tenant, 1)",
        0,
        "`orders` (alias `o`) is not scoped",
    ),
    (
        "MERGE INTO orders o USING payments p ON o.tenant_id = $tenant AND o.id = p.order_id WHEN MATCHED THEN DELETE",
        0,
        "`payments` (alias `p`) is not scoped",
    ),
];

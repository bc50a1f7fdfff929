//! Every statement the checker accepts (`cases::ACCEPTED`), run on
//! PostgreSQL for tenant A with row-level security off, so that the
//! statement's own tenant filter is the only wall. Run on a database that
//! also holds tenant B's rows (under the same keys, with other values), it
//! must return exactly what it returns on a database that holds A's rows
//! alone, write the same rows there, and leave B's rows as they were.
//!
//! The arguments are SQL literals passed through `PREPARE` and `EXECUTE`, so
//! PostgreSQL types them from the statement, as it types the macros'
//! arguments at compile time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

// The refused cases are checker.rs's.
#[allow(dead_code)]
mod cases;

use std::fmt::Write as _;

use sqlx::{Connection, PgConnection, Row, ValueRef};
use tenancy_macros_core::scope_sql;
use tenancy_testing::TestDatabase;

const A: &str = "00000000-0000-0000-0000-00000000000a";
const B: &str = "00000000-0000-0000-0000-00000000000b";

const TENANT_TABLES: &[&str] = &[
    "customers",
    "products",
    "orders",
    "order_lines",
    "payments",
    "categories",
    "ledger",
];

/// The point-of-sale tables, without row-level security. Ids are numbered
/// per tenant (by a trigger), so that an insert returns the same id in
/// both databases.
const SCHEMA: &str = r"
CREATE TABLE plans (id int PRIMARY KEY, name text NOT NULL);
INSERT INTO plans VALUES (1, 'free'), (2, 'pro');
CREATE FUNCTION next_id() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.id IS NULL THEN
        EXECUTE format('SELECT coalesce(max(id), 0) + 1 FROM %I WHERE tenant_id = $1', TG_TABLE_NAME)
            INTO NEW.id USING NEW.tenant_id;
    END IF;
    RETURN NEW;
END $$;
CREATE TABLE customers (tenant_id uuid NOT NULL, id int, name text);
CREATE TABLE products (tenant_id uuid NOT NULL, id int, sku text, price numeric,
    attrs jsonb, updated_at timestamptz, UNIQUE (tenant_id, sku));
CREATE TABLE orders (tenant_id uuid NOT NULL, id int, customer_id int, total numeric,
    plan_id int, created_at timestamptz, paid bool NOT NULL DEFAULT false);
CREATE TABLE order_lines (tenant_id uuid NOT NULL, order_id int, product_id int, qty int, price numeric);
CREATE TABLE payments (tenant_id uuid NOT NULL, id int, order_id int, amount numeric);
CREATE TABLE categories (tenant_id uuid NOT NULL, id int, parent_id int);
CREATE TABLE ledger (org_id uuid NOT NULL, tenant_id uuid, id int);
";

/// One tenant's rows: `n` of each, values scaled by `m`.
fn rows_of(tenant: &str, n: u32, m: u32) -> String {
    format!(
        r"
INSERT INTO customers SELECT '{tenant}', g, 'customer ' || g * {m} FROM generate_series(1, {n}) g;
INSERT INTO products SELECT '{tenant}', g, 'sku-' || g, g * 10 * {m},
    jsonb_build_object('color', CASE WHEN g % 2 = 1 THEN 'red' ELSE 'blue' END,
                       'size', CASE WHEN g <= 2 THEN 'L' ELSE 'M' END),
    '2026-01-01' FROM generate_series(1, {n}) g;
INSERT INTO orders SELECT '{tenant}', g, g % {n} + 1, g * 5 * {m}, 1 + g % 2,
    timestamptz '2026-01-01 12:00' + g * interval '1 day' FROM generate_series(1, {n}) g;
INSERT INTO order_lines SELECT '{tenant}', o, p, (o + 3 * p) * {m}, p * 10 * {m}
    FROM generate_series(1, {n}) o, generate_series(1, {n}) p;
INSERT INTO payments SELECT '{tenant}', g, g, g * 5 * {m} FROM generate_series(1, {n} - 1) g;
INSERT INTO categories SELECT '{tenant}', g, nullif(g / 2, 0) FROM generate_series(1, {n}) g;
INSERT INTO ledger SELECT '{tenant}', '{tenant}', g * {m} FROM generate_series(1, {n}) g;
"
    )
}

/// A database with the tables, a tenant default on every tenant column,
/// and the rows of `tenants` (id, count, scale).
fn database(tenants: &[(&str, u32, u32)]) -> TestDatabase {
    let db = tenancy_testing::test_database();
    let mut sql = SCHEMA.to_owned();
    for table in TENANT_TABLES {
        let column = if *table == "ledger" {
            "org_id"
        } else {
            "tenant_id"
        };
        let _ = write!(
            sql,
            "ALTER TABLE {table} ALTER {column} SET DEFAULT nullif(current_setting('app.tenant_id', true), '')::uuid;"
        );
        if !matches!(*table, "ledger" | "order_lines") {
            let _ = write!(
                sql,
                "CREATE TRIGGER next_id BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION next_id();"
            );
        }
    }
    for (tenant, n, m) in tenants {
        sql.push_str(&rows_of(tenant, *n, *m));
    }
    db.owner_sql(&sql).unwrap();
    db
}

/// What a statement did: the rows it returned and every tenant table's
/// rows after it (as JSON, without `updated_at`, which is `now()`).
#[derive(Debug, PartialEq)]
struct Outcome {
    returned: Vec<Vec<Option<String>>>,
    tables: Vec<String>,
}

fn literal(value: &str) -> String {
    format!("'{}'", value.replace('\'', "''"))
}

async fn table_rows(conn: &mut PgConnection) -> Vec<String> {
    let mut all = Vec::new();
    for table in TENANT_TABLES {
        let sql = format!("SELECT '{table} ' || (to_jsonb(t) - 'updated_at')::text FROM {table} t");
        for row in sqlx::raw_sql(sqlx::AssertSqlSafe(sql))
            .fetch_all(&mut *conn)
            .await
            .unwrap()
        {
            all.push(row.get::<String, _>(0));
        }
    }
    all.sort();
    all
}

/// Runs `sql` with `args` (SQL literals for `$1`, `$2`..) for tenant A, in a
/// transaction that is rolled back.
async fn run(url: &str, sql: &str, args: &[&str]) -> Result<Outcome, sqlx::Error> {
    let mut conn = PgConnection::connect(url).await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "BEGIN; SELECT set_config('app.tenant_id', '{A}', true); PREPARE statement AS {sql}"
    )))
    .execute(&mut conn)
    .await?;
    let values: Vec<String> = args.iter().map(|a| literal(a)).collect();
    let execute = if values.is_empty() {
        "EXECUTE statement".to_owned()
    } else {
        format!("EXECUTE statement({})", values.join(", "))
    };
    let found = sqlx::raw_sql(sqlx::AssertSqlSafe(execute))
        .fetch_all(&mut conn)
        .await?;
    let mut returned: Vec<Vec<Option<String>>> = found
        .iter()
        .map(|row| {
            (0..row.columns().len())
                .map(|i| {
                    let raw = row.try_get_raw(i).unwrap();
                    (!raw.is_null())
                        .then(|| String::from_utf8_lossy(raw.as_bytes().unwrap()).into_owned())
                })
                .collect()
        })
        .collect();
    returned.sort();
    let tables = table_rows(&mut conn).await;
    sqlx::raw_sql("ROLLBACK").execute(&mut conn).await?;
    Ok(Outcome { returned, tables })
}

/// The rows of tenant B in a table dump.
fn rows_of_b(tables: &[String]) -> Vec<String> {
    tables.iter().filter(|r| r.contains(B)).cloned().collect()
}

struct Databases {
    shared: TestDatabase,
    alone: TestDatabase,
    rows_of_b: Vec<String>,
}

impl Databases {
    async fn new() -> Self {
        // A has 3 of everything; B has 5, under the same ids and keys, with
        // values 7 times as large: an unfiltered join, subquery or write
        // picks B's rows up, or changes them.
        let shared = database(&[(A, 3, 1), (B, 5, 7)]);
        let alone = database(&[(A, 3, 1)]);
        let before = run(shared.owner_url(), "SELECT 1", &[]).await.unwrap();
        Self {
            rows_of_b: rows_of_b(&before.tables),
            shared,
            alone,
        }
    }

    /// `None` when the statement is filtered to A, else what differed.
    async fn leak(&self, sql: &str, args: &[&str]) -> Option<String> {
        let shared = run(self.shared.owner_url(), sql, args)
            .await
            .unwrap_or_else(|e| panic!("{sql}\n  failed with two tenants: {e}"));
        let alone = run(self.alone.owner_url(), sql, args)
            .await
            .unwrap_or_else(|e| panic!("{sql}\n  failed with one tenant: {e}"));
        let b_after = rows_of_b(&shared.tables);
        let a_after: Vec<String> = shared
            .tables
            .iter()
            .filter(|r| !r.contains(B))
            .cloned()
            .collect();
        if shared.returned != alone.returned {
            Some(format!(
                "returned\n    {:?}\n  with two tenants, but\n    {:?}\n  with A alone",
                shared.returned, alone.returned
            ))
        } else if b_after != self.rows_of_b {
            Some("changed tenant B's rows".to_owned())
        } else if a_after != alone.tables {
            Some(format!(
                "left\n    {a_after:?}\n  with two tenants, but\n    {:?}\n  with A alone",
                alone.tables
            ))
        } else {
            None
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn every_accepted_statement_is_filtered_to_the_tenant() {
    let databases = Databases::new().await;
    let manifest = cases::manifest();
    let mut returning = 0;
    for (sql, args) in cases::ACCEPTED {
        let scoped = scope_sql(sql, &manifest, args.len())
            .unwrap_or_else(|e| panic!("refused {sql}\n  {e}"));
        // The tenant is the argument after the statement's own.
        let mut values = args.to_vec();
        if let Some(n) = scoped.tenant_param {
            assert_eq!(n, args.len() + 1, "{sql}");
            values.push(A);
        }
        if let Some(leak) = databases.leak(&scoped.sql, &values).await {
            panic!("accepted but not filtered to the tenant: {sql}\n  {leak}");
        }
        let alone = run(databases.alone.owner_url(), &scoped.sql, &values)
            .await
            .unwrap();
        returning += usize::from(!alone.returned.is_empty());
    }
    // The data makes the statements do something: most return rows for A.
    eprintln!(
        "{returning} of {} statements returned rows",
        cases::ACCEPTED.len()
    );
    assert!(
        returning * 4 >= cases::ACCEPTED.len() * 3,
        "only {returning} statements returned rows"
    );
}

/// The comparison notices a statement that is not filtered: reading,
/// joining, and writing across tenants.
#[tokio::test(flavor = "multi_thread")]
async fn the_comparison_notices_unfiltered_statements() {
    let databases = Databases::new().await;
    for (sql, args) in [
        ("SELECT * FROM orders WHERE id = $1", &["1"][..]),
        (
            "SELECT o.id, sum(l.qty) FROM orders o JOIN order_lines l ON l.order_id = o.id WHERE o.tenant_id = $1 GROUP BY o.id",
            &[A][..],
        ),
        (
            "SELECT * FROM orders o WHERE o.tenant_id = $1 AND EXISTS (SELECT 1 FROM payments p WHERE p.order_id = 4)",
            &[A][..],
        ),
        ("UPDATE products SET price = 0 WHERE id = $1", &["4"][..]),
        ("DELETE FROM payments WHERE order_id = $1", &["4"][..]),
        (
            "INSERT INTO customers (tenant_id, name) VALUES ($1, 'x')",
            &[B][..],
        ),
    ] {
        assert!(
            databases.leak(sql, args).await.is_some(),
            "not noticed: {sql}"
        );
    }
}

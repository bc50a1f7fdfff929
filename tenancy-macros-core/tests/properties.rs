//! Properties of the checker on generated SQL.
//!
//! 1. It never panics, whatever the input.
//! 2. What it accepts really filters every tenant table: each accepted
//!    query, run for tenant A on a database that also holds tenant B's rows
//!    (no row-level security anywhere), returns exactly what it returns on a
//!    database holding only A's rows.
//! 3. It is not uselessly strict: a query whose every tenant table has
//!    `tenant_id = $tenant` in its WHERE is accepted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

#[allow(dead_code)]
mod cases;

use std::cell::Cell;
use std::fmt::Write as _;

use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use sqlx::{PgPool, Row};
use tenancy_macros_core::{Manifest, TableEntry, scope_sql};

fn manifest() -> Manifest {
    Manifest::new(vec![
        TableEntry::tenant("public", "t1", "tenant_id"),
        TableEntry::tenant("public", "t2", "tenant_id"),
        TableEntry::tenant("public", "t3", "tenant_id"),
        TableEntry::shared("public", "s"),
    ])
}

const A: &str = "00000000-0000-0000-0000-00000000000a";
const B: &str = "00000000-0000-0000-0000-00000000000b";

// ---- 1. No panic ------------------------------------------------------------

const WORDS: &[&str] = &[
    "SELECT",
    "*",
    "FROM",
    "t1",
    "t2",
    "s",
    "a",
    "b",
    "WHERE",
    "tenant_id",
    "=",
    "$tenant",
    "$1",
    "AND",
    "OR",
    "JOIN",
    "LEFT",
    "ON",
    "USING",
    "(",
    ")",
    ",",
    ".",
    "a.tenant_id",
    "EXISTS",
    "IN",
    "WITH",
    "AS",
    "UNION",
    "INSERT",
    "INTO",
    "VALUES",
    "UPDATE",
    "SET",
    "DELETE",
    "MERGE",
    "LATERAL",
    "RETURNING",
    "'x'",
    "1",
    "NOT",
    "NULL",
    "IS",
    ";",
    "--",
    "/*",
    "$$",
    "::uuid",
];

proptest! {
    #![proptest_config(Config { cases: 2000, ..Config::default() })]

    #[test]
    fn never_panics_on_token_soup(words in prop::collection::vec(prop::sample::select(WORDS), 0..30)) {
        let _ = scope_sql(&words.join(" "), &manifest(), 1);
    }

    #[test]
    fn never_panics_on_any_text(text in "\\PC{0,120}") {
        let _ = scope_sql(&text, &manifest(), 2);
    }

    #[test]
    fn never_panics_on_cut_cases(case in 0..cases::ACCEPTED.len(), from in 0usize..400, len in 0usize..40) {
        let sql = cases::ACCEPTED[case].0;
        let from = from.min(sql.len());
        let to = (from + len).min(sql.len());
        if sql.is_char_boundary(from) && sql.is_char_boundary(to) {
            let cut = format!("{}{}", &sql[..from], &sql[to..]);
            let _ = scope_sql(&cut, &manifest(), 2);
        }
    }
}

// ---- 2 and 3. Generated queries against PostgreSQL --------------------------

/// A FROM item: a tenant table (0..3 for t1..t3), the shared table (3), or
/// a derived table over a tenant table, filtered to `$tenant` or not.
#[derive(Debug, Clone, Copy)]
enum Item {
    Table(usize),
    Derived(usize, bool),
}

impl Item {
    fn has_tenant_column(self) -> bool {
        !matches!(self, Item::Table(3))
    }

    fn is_tenant_table(self) -> bool {
        matches!(self, Item::Table(t) if t < 3)
    }

    fn sql(self) -> String {
        match self {
            Item::Table(3) => "s".to_owned(),
            Item::Table(t) => format!("t{}", t + 1),
            Item::Derived(t, scoped) => format!(
                "(SELECT * FROM t{} WHERE {})",
                t + 1,
                if scoped {
                    "tenant_id = $tenant"
                } else {
                    "k > 0"
                }
            ),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Join {
    Inner,
    Left,
    Right,
    Full,
    Cross,
}

/// A condition on the items (indices are taken modulo what is in scope).
#[derive(Debug, Clone, Copy)]
enum Atom {
    TenantIsParam(usize),
    TenantsEqual(usize, usize),
    IdsEqual(usize, usize),
    TenantOrK(usize),
    KPositive(usize),
    Exists {
        table: usize,
        outer: usize,
        scoped: Scoping,
    },
}

#[derive(Debug, Clone, Copy)]
enum Scoping {
    Param,
    Correlated,
    None,
}

#[derive(Debug, Clone)]
struct Query {
    first: Item,
    joins: Vec<(Join, Item, Vec<Atom>)>,
    filter: Vec<Atom>,
}

fn item() -> impl Strategy<Value = Item> {
    prop_oneof![
        4 => (0usize..4).prop_map(Item::Table),
        1 => (0usize..3, any::<bool>()).prop_map(|(t, s)| Item::Derived(t, s)),
    ]
}

fn atom() -> impl Strategy<Value = Atom> {
    let i = 0usize..4;
    prop_oneof![
        4 => i.clone().prop_map(Atom::TenantIsParam),
        4 => (i.clone(), i.clone()).prop_map(|(a, b)| Atom::TenantsEqual(a, b)),
        3 => (i.clone(), i.clone()).prop_map(|(a, b)| Atom::IdsEqual(a, b)),
        1 => i.clone().prop_map(Atom::TenantOrK),
        1 => i.clone().prop_map(Atom::KPositive),
        1 => (0usize..3, i, prop_oneof![Just(Scoping::Param), Just(Scoping::Correlated), Just(Scoping::None)])
            .prop_map(|(table, outer, scoped)| Atom::Exists { table, outer, scoped }),
    ]
}

fn query() -> impl Strategy<Value = Query> {
    let join = prop_oneof![
        4 => Just(Join::Inner),
        2 => Just(Join::Left),
        1 => Just(Join::Right),
        1 => Just(Join::Full),
        1 => Just(Join::Cross),
    ];
    (
        item(),
        prop::collection::vec((join, item(), prop::collection::vec(atom(), 0..3)), 0..3),
        prop::collection::vec(atom(), 0..5),
    )
        .prop_map(|(first, joins, filter)| Query {
            first,
            joins,
            filter,
        })
}

impl Query {
    fn items(&self) -> Vec<Item> {
        std::iter::once(self.first)
            .chain(self.joins.iter().map(|j| j.1))
            .collect()
    }

    /// An atom over the first `n` items, as SQL.
    #[allow(clippy::many_single_char_names)]
    fn atom(&self, atom: Atom, n: usize) -> String {
        let items = self.items();
        let pick = |i: usize| i % n;
        let tenant = |i: usize| {
            let i = pick(i);
            items[i]
                .has_tenant_column()
                .then(|| format!("a{i}.tenant_id"))
        };
        match atom {
            Atom::TenantIsParam(i) => {
                tenant(i).map_or_else(|| "true".into(), |c| format!("{c} = $tenant"))
            }
            Atom::TenantsEqual(i, j) => match (tenant(i), tenant(j)) {
                (Some(a), Some(b)) => format!("{a} = {b}"),
                _ => "true".into(),
            },
            Atom::IdsEqual(i, j) => format!("a{}.id = a{}.id", pick(i), pick(j)),
            Atom::TenantOrK(i) => tenant(i).map_or_else(
                || "true".into(),
                |c| format!("({c} = $tenant OR a{}.k > 2)", pick(i)),
            ),
            Atom::KPositive(i) => format!("a{}.k > 0", pick(i)),
            Atom::Exists {
                table,
                outer,
                scoped,
            } => {
                let o = pick(outer);
                let scope = match (scoped, tenant(o)) {
                    (Scoping::Param, _) => " AND z.tenant_id = $tenant".to_owned(),
                    (Scoping::Correlated, Some(c)) => format!(" AND z.tenant_id = {c}"),
                    _ => String::new(),
                };
                format!(
                    "EXISTS (SELECT 1 FROM t{} z WHERE z.id = a{o}.id{scope})",
                    table + 1
                )
            }
        }
    }

    fn sql(&self) -> String {
        let items = self.items();
        let columns: Vec<String> = (0..items.len())
            .map(|i| format!("a{i}.id::text, a{i}.k::text"))
            .collect();
        let mut sql = format!("SELECT {} FROM {} a0", columns.join(", "), self.first.sql());
        for (n, (join, item, on)) in self.joins.iter().enumerate() {
            let keyword = match join {
                Join::Inner => "JOIN",
                Join::Left => "LEFT JOIN",
                Join::Right => "RIGHT JOIN",
                Join::Full => "FULL JOIN",
                Join::Cross => "CROSS JOIN",
            };
            let _ = write!(sql, " {keyword} {} a{}", item.sql(), n + 1);
            if matches!(join, Join::Full) {
                // PostgreSQL runs FULL JOIN only on equalities of both sides.
                let _ = write!(sql, " ON a{}.id = a{}.id", n, n + 1);
            } else if !matches!(join, Join::Cross) {
                let conds: Vec<String> = on.iter().map(|a| self.atom(*a, n + 2)).collect();
                let conds = if conds.is_empty() {
                    "true".to_owned()
                } else {
                    conds.join(" AND ")
                };
                let _ = write!(sql, " ON {conds}");
            }
        }
        if !self.filter.is_empty() {
            let conds: Vec<String> = self
                .filter
                .iter()
                .map(|a| self.atom(*a, items.len()))
                .collect();
            let _ = write!(sql, " WHERE {}", conds.join(" AND "));
        }
        sql
    }

    /// The same query with `tenant_id = $tenant` on every tenant table in
    /// WHERE: it must be accepted.
    fn fully_scoped(&self) -> Self {
        let mut q = self.clone();
        for (i, item) in self.items().iter().enumerate() {
            if item.is_tenant_table() || matches!(item, Item::Derived(_, false)) {
                q.filter.push(Atom::TenantIsParam(i));
            }
        }
        for j in &mut q.joins {
            if let Item::Derived(t, false) = j.1 {
                j.1 = Item::Derived(t, true);
            }
        }
        if let Item::Derived(t, false) = q.first {
            q.first = Item::Derived(t, true);
        }
        let fix = |atoms: &mut Vec<Atom>| {
            atoms.retain(|a| !matches!(a, Atom::TenantOrK(_)));
            for a in atoms {
                if let Atom::Exists { scoped, .. } = a {
                    *scoped = Scoping::Param;
                }
            }
        };
        fix(&mut q.filter);
        for j in &mut q.joins {
            fix(&mut j.2);
        }
        q
    }
}

async fn database(tenants: &[(&str, i32)]) -> (tenancy_testing::TestDatabase, PgPool) {
    let db = tenancy_testing::test_database();
    let mut sql = String::from(
        "CREATE TABLE s (id int, k int); INSERT INTO s SELECT g, g FROM generate_series(1, 4) g;",
    );
    for t in 1..=3 {
        let _ = write!(
            sql,
            "CREATE TABLE t{t} (tenant_id uuid NOT NULL, id int, k int);"
        );
        for (tenant, rows) in tenants {
            let _ = write!(
                sql,
                "INSERT INTO t{t} SELECT '{tenant}', g, g * {t} FROM generate_series(1, {rows}) g;"
            );
        }
    }
    db.owner_sql(&sql).unwrap();
    let pool = PgPool::connect(db.owner_url()).await.unwrap();
    (db, pool)
}

async fn rows(pool: &PgPool, sql: &str) -> Result<Vec<Vec<Option<String>>>, sqlx::Error> {
    let found = sqlx::query(sqlx::AssertSqlSafe(sql.to_owned()))
        .bind(uuid::Uuid::parse_str(A).unwrap())
        .fetch_all(pool)
        .await?;
    let mut out: Vec<Vec<Option<String>>> = found
        .iter()
        .map(|r| (0..r.columns().len()).map(|i| r.get(i)).collect())
        .collect();
    out.sort();
    Ok(out)
}

#[test]
fn accepted_queries_return_only_the_tenants_rows() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    // A has ids 1..3; B has 1..5 with the same keys, so any unfiltered
    // join or subquery picks B's rows up.
    let (_shared_db, shared) = rt.block_on(database(&[(A, 3), (B, 5)]));
    let (_solo_db, solo) = rt.block_on(database(&[(A, 3)]));
    let manifest = manifest();
    let (accepted, refused, leaky) = (Cell::new(0), Cell::new(0), Cell::new(0));
    let mut runner = TestRunner::new(Config {
        cases: 600,
        failure_persistence: None,
        ..Config::default()
    });
    runner
        .run(&query(), |q| {
            let sql = q.sql();
            // 3: full scoping is always accepted.
            let full = q.fully_scoped().sql();
            prop_assert!(
                scope_sql(&full, &manifest, 0).is_ok(),
                "refused {full}: {:?}",
                scope_sql(&full, &manifest, 0)
            );
            // 2: what is accepted is filtered.
            let Ok(scoped) = scope_sql(&sql, &manifest, 0) else {
                refused.set(refused.get() + 1);
                let plain = sql.replace("$tenant", "$1");
                let answers = (
                    rt.block_on(rows(&shared, &plain)),
                    rt.block_on(rows(&solo, &plain)),
                );
                if let (Ok(all), Ok(alone)) = answers
                    && all != alone
                {
                    leaky.set(leaky.get() + 1);
                }
                return Ok(());
            };
            accepted.set(accepted.get() + 1);
            let both = rt
                .block_on(rows(&shared, &scoped.sql))
                .map_err(|e| TestCaseError::fail(format!("{sql}: {e}")))?;
            let alone = rt
                .block_on(rows(&solo, &scoped.sql))
                .map_err(|e| TestCaseError::fail(format!("{sql}: {e}")))?;
            prop_assert_eq!(both, alone, "accepted but leaks: {}", sql);
            Ok(())
        })
        .unwrap();
    eprintln!(
        "accepted {}, refused {} (of which {} really leak)",
        accepted.get(),
        refused.get(),
        leaky.get()
    );
    // The generator must exercise both sides, and the refusals must include
    // queries that really leak (the test would notice a checker that
    // accepts everything).
    assert!(accepted.get() >= 100, "only {} accepted", accepted.get());
    assert!(
        leaky.get() >= 100,
        "only {} leaky queries refused",
        leaky.get()
    );
}

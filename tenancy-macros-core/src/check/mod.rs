//! The checker: walks a statement, query level by query level, and refuses
//! it unless every tenant-table reference is proven filtered to the tenant.

mod names;
mod proof;
mod scope;
mod statements;

use std::collections::HashSet;
use std::fmt::Write as _;
use std::ops::ControlFlow;

use sqlparser::ast::{
    Expr, Join, JoinConstraint, JoinOperator, ObjectName, Query, Select, SetExpr, Spanned,
    Statement, TableAlias, TableFactor, TableWithJoins, Visit, Visitor, visit_relations,
};
use sqlparser::tokenizer::Location;

use crate::CheckError;
use crate::manifest::{FILE_NAME, Manifest, TableEntry};
use proof::{Pool, UsingEq, conjuncts, prove};
use scope::{Env, Ref, Source};

pub(crate) use proof::TENANT_PARAM;

/// Set-returning functions that read no table, allowed in FROM.
const TABLE_FUNCTIONS: &[&str] = &[
    "generate_series",
    "unnest",
    "jsonb_array_elements",
    "jsonb_array_elements_text",
    "jsonb_each",
    "jsonb_each_text",
    "jsonb_to_recordset",
    "jsonb_populate_recordset",
    "json_array_elements",
    "json_array_elements_text",
    "json_each",
    "json_each_text",
    "json_to_recordset",
    "regexp_matches",
    "regexp_split_to_table",
    "string_to_table",
];

/// Where an unqualified manifest table's name starts, and its schema, to
/// qualify it (so that a temporary table of the same name cannot shadow it).
pub(crate) type Qualification = (Location, String);

/// The walk over one statement.
pub(crate) struct Checker<'m> {
    manifest: &'m Manifest,
    /// The start of every table name the walk classified.
    seen: HashSet<(u64, u64)>,
    pub(crate) qualify: Vec<Qualification>,
    /// The id types of the tenant tables the statement names.
    pub(crate) id_types: std::collections::BTreeSet<&'static str>,
}

/// The references and conditions of one FROM clause (a SELECT, or the
/// target and FROM/USING lists of an UPDATE, DELETE or MERGE).
#[derive(Default)]
struct Frame<'s> {
    refs: Vec<Ref>,
    pools: Vec<Pool<'s>>,
    usings: Vec<UsingEq>,
    /// LATERAL subqueries: checked once the references before them are.
    laterals: Vec<&'s Query>,
    /// Join conditions and table-function arguments, for their subqueries.
    exprs: Vec<&'s dyn VisitDyn>,
}

/// How a join's `ON` filters its operands.
enum Filters {
    Both,
    Left,
    Right,
    Neither,
}

fn key(at: Location) -> (u64, u64) {
    (at.line, at.column)
}

/// The queries directly inside `node` (not those nested in them).
fn top_queries(node: &dyn VisitDyn) -> Vec<Query> {
    struct Top {
        depth: usize,
        found: Vec<Query>,
    }
    impl Visitor for Top {
        type Break = ();
        fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
            if self.depth == 0 {
                self.found.push(query.clone());
            }
            self.depth += 1;
            ControlFlow::Continue(())
        }
        fn post_visit_query(&mut self, _: &Query) -> ControlFlow<()> {
            self.depth -= 1;
            ControlFlow::Continue(())
        }
    }
    let mut top = Top {
        depth: 0,
        found: Vec::new(),
    };
    node.visit_dyn(&mut top);
    top.found
}

/// [`Visit`] for trait objects (its `visit` is generic).
pub(crate) trait VisitDyn {
    fn visit_dyn(&self, visitor: &mut dyn VisitorDyn);
}

/// A [`Visitor`] with `Break = ()`, as a trait object.
pub(crate) trait VisitorDyn {
    fn query(&mut self, query: &Query, pre: bool);
}

impl<T: Visitor<Break = ()>> VisitorDyn for T {
    fn query(&mut self, query: &Query, pre: bool) {
        let _ = if pre {
            self.pre_visit_query(query)
        } else {
            self.post_visit_query(query)
        };
    }
}

impl<T: Visit> VisitDyn for T {
    fn visit_dyn(&self, visitor: &mut dyn VisitorDyn) {
        struct Forward<'v>(&'v mut dyn VisitorDyn);
        impl Visitor for Forward<'_> {
            type Break = ();
            fn pre_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
                self.0.query(query, true);
                ControlFlow::Continue(())
            }
            fn post_visit_query(&mut self, query: &Query) -> ControlFlow<()> {
                self.0.query(query, false);
                ControlFlow::Continue(())
            }
        }
        let _ = self.visit(&mut Forward(visitor));
    }
}

impl<'m> Checker<'m> {
    pub(crate) fn new(manifest: &'m Manifest) -> Self {
        Self {
            manifest,
            seen: HashSet::new(),
            qualify: Vec::new(),
            id_types: std::collections::BTreeSet::new(),
        }
    }

    /// Checks one statement; afterwards, `qualify` lists the names to
    /// schema-qualify.
    pub(crate) fn statement(&mut self, statement: &Statement) -> Result<(), CheckError> {
        match statement {
            Statement::Query(query) => self.query(query, None)?,
            other => self.dml(other, None)?,
        }
        self.all_classified(statement)
    }

    /// The safety net: every table name in the statement must have been
    /// classified by the walk. One it did not reach sits in a construct the
    /// checker does not understand, and is refused.
    fn all_classified(&self, statement: &Statement) -> Result<(), CheckError> {
        let mut missed = None;
        let _ = visit_relations(statement, |name: &ObjectName| {
            if !self.seen.contains(&key(name.span().start)) {
                missed = Some(name.clone());
                return ControlFlow::Break(());
            }
            ControlFlow::Continue(())
        });
        match missed {
            Some(name) => Err(CheckError::at(
                format!(
                    "the tenancy checker cannot follow how `{name}` is used in this statement, so it cannot prove it is filtered to the tenant; write it as a plain SELECT, INSERT, UPDATE, DELETE or MERGE, or use raw SQL on the transaction (row-level security still applies)"
                ),
                name.span().start,
            )),
            None => Ok(()),
        }
    }

    /// A query: its CTEs, its body, and the subqueries of its ORDER BY,
    /// LIMIT and FETCH.
    fn query(&mut self, query: &Query, parent: Option<&Env<'_>>) -> Result<(), CheckError> {
        let mut env = Env::new(parent);
        if let Some(with) = &query.with {
            for cte in &with.cte_tables {
                let name = names::fold(&cte.alias.name);
                if with.recursive {
                    env.ctes.push(name.clone());
                }
                self.query(&cte.query, Some(&env))?;
                if !with.recursive {
                    env.ctes.push(name);
                }
            }
        }
        self.set_expr(&query.body, &env)?;
        self.nested(&query.order_by, &env)?;
        self.nested(&query.limit_clause, &env)?;
        self.nested(&query.fetch, &env)
    }

    fn set_expr(&mut self, body: &SetExpr, env: &Env<'_>) -> Result<(), CheckError> {
        match body {
            SetExpr::Select(select) => self.select(select, env),
            SetExpr::Query(query) => self.query(query, Some(env)),
            SetExpr::SetOperation { left, right, .. } => {
                self.set_expr(left, env)?;
                self.set_expr(right, env)
            }
            SetExpr::Values(values) => self.nested(values, env),
            SetExpr::Insert(statement)
            | SetExpr::Update(statement)
            | SetExpr::Delete(statement)
            | SetExpr::Merge(statement) => self.dml(statement, Some(env)),
            SetExpr::Table(table) => {
                let name = table
                    .table_name
                    .as_ref()
                    .map(ToString::to_string)
                    .unwrap_or_default();
                Err(CheckError::new(format!(
                    "`TABLE {name}` reads a whole table: write `SELECT * FROM {name} WHERE tenant_id = $tenant` (or the shared table's query) instead"
                )))
            }
        }
    }

    fn select(&mut self, select: &Select, env: &Env<'_>) -> Result<(), CheckError> {
        let mut frame = Frame::default();
        for item in &select.from {
            self.join_tree(item, env, &mut frame)?;
        }
        if let Some(selection) = &select.selection {
            frame.pools.push(Pool {
                conjuncts: conjuncts(selection),
                targets: (0..frame.refs.len()).collect(),
            });
        }
        let mut rest = select.clone();
        rest.from.clear();
        self.finish(frame, env, &[&rest])
    }

    /// Proves the frame's references, checks the subqueries that may read
    /// them (`extra` holds the statement's own expressions), and refuses
    /// any tenant table left unproven.
    fn finish(
        &mut self,
        frame: Frame<'_>,
        env: &Env<'_>,
        extra: &[&dyn VisitDyn],
    ) -> Result<(), CheckError> {
        let Frame {
            mut refs,
            pools,
            usings,
            laterals,
            exprs,
        } = frame;
        prove(&mut refs, Some(env), &pools, &usings);
        let local = Env {
            refs,
            ctes: Vec::new(),
            parent: Some(env),
        };
        for lateral in laterals {
            self.query(lateral, Some(&local))?;
        }
        for expr in exprs {
            self.nested_dyn(expr, &local)?;
        }
        for node in extra {
            self.nested_dyn(*node, &local)?;
        }
        match local.refs.iter().find(|r| r.unproven()) {
            Some(r) => Err(unscoped(r, &local.refs)),
            None => Ok(()),
        }
    }

    /// Checks the queries nested in `node` (subqueries in expressions).
    fn nested(&mut self, node: &dyn VisitDyn, env: &Env<'_>) -> Result<(), CheckError> {
        self.nested_dyn(node, env)
    }

    fn nested_dyn(&mut self, node: &dyn VisitDyn, env: &Env<'_>) -> Result<(), CheckError> {
        for query in top_queries(node) {
            self.query(&query, Some(env))?;
        }
        Ok(())
    }

    /// One FROM item and its joins; returns the indices of its references
    /// and the one its merged `USING` columns come from.
    fn join_tree<'s>(
        &mut self,
        item: &'s TableWithJoins,
        env: &Env<'_>,
        frame: &mut Frame<'s>,
    ) -> Result<(Vec<usize>, Option<usize>), CheckError> {
        let (mut left, mut merged) = self.factor(&item.relation, env, frame)?;
        for join in &item.joins {
            let (right, right_merged) = self.factor(&join.relation, env, frame)?;
            let (constraint, filters) = join_filters(join)?;
            let targets: Vec<usize> = match filters {
                Filters::Both => left.iter().chain(&right).copied().collect(),
                Filters::Left => left.clone(),
                Filters::Right => right.clone(),
                Filters::Neither => Vec::new(),
            };
            let nullable: Vec<usize> = match filters {
                Filters::Both => Vec::new(),
                Filters::Left => left.clone(),
                Filters::Right => right.clone(),
                Filters::Neither => left.iter().chain(&right).copied().collect(),
            };
            for i in &nullable {
                frame.refs[*i].nullable = true;
            }
            if matches!(filters, Filters::Right | Filters::Neither) {
                merged = None;
            }
            match constraint {
                Some(JoinConstraint::On(expr)) => {
                    frame.pools.push(Pool {
                        conjuncts: conjuncts(expr),
                        targets,
                    });
                    frame.exprs.push(expr);
                }
                Some(JoinConstraint::Using(columns)) => frame.usings.push(UsingEq {
                    left: merged,
                    right: right_merged,
                    columns: columns.iter().filter_map(names::last).collect(),
                    targets,
                }),
                _ => {}
            }
            left.extend(right);
        }
        Ok((left, merged))
    }

    /// One table factor; returns the indices of its references and the one
    /// `USING` columns of a join with it come from.
    fn factor<'s>(
        &mut self,
        factor: &'s TableFactor,
        env: &Env<'_>,
        frame: &mut Frame<'s>,
    ) -> Result<(Vec<usize>, Option<usize>), CheckError> {
        let index = frame.refs.len();
        let r = match factor {
            TableFactor::Table {
                name,
                alias,
                args: None,
                ..
            } => self.table(name, alias.as_ref().map(|a| &a.name), env)?,
            TableFactor::Table {
                name,
                alias,
                args: Some(_),
                ..
            }
            | TableFactor::Function { name, alias, .. } => {
                frame.exprs.push(factor);
                self.function(name, alias.as_ref())?
            }
            TableFactor::Derived {
                lateral,
                subquery,
                alias,
                ..
            } => {
                if *lateral {
                    frame.laterals.push(subquery);
                } else {
                    self.query(subquery, Some(env))?;
                }
                let binding = alias
                    .as_ref()
                    .map(|a| names::fold(&a.name))
                    .unwrap_or_default();
                Ref::other(binding, factor.span().start)
            }
            TableFactor::UNNEST { alias, .. } => {
                frame.exprs.push(factor);
                let binding = alias
                    .as_ref()
                    .map_or_else(|| "unnest".to_owned(), |a| names::fold(&a.name));
                Ref::other(binding, factor.span().start)
            }
            TableFactor::NestedJoin {
                table_with_joins, ..
            } => return self.join_tree(table_with_joins, env, frame),
            other => {
                return Err(CheckError::at(
                    format!("the tenancy checker does not support `{other}` in FROM"),
                    other.span().start,
                ));
            }
        };
        frame.refs.push(r);
        Ok((vec![index], Some(index)))
    }

    /// A table name in FROM (or the target of a write): a CTE, or a table
    /// the manifest knows.
    fn table(
        &mut self,
        name: &ObjectName,
        alias: Option<&sqlparser::ast::Ident>,
        env: &Env<'_>,
    ) -> Result<Ref, CheckError> {
        let at = name.span().start;
        self.seen.insert(key(at));
        let Some(parts) = names::parts(name) else {
            return Err(CheckError::at(
                format!("cannot read the table name `{name}`"),
                at,
            ));
        };
        let alias = alias.map(names::fold);
        if let ([table], true) = (parts.as_slice(), parts.len() == 1 && env.is_cte(&parts[0])) {
            return Ok(Ref::other(alias.unwrap_or_else(|| table.clone()), at));
        }
        let entry = self.entry(name, &parts, at)?;
        if entry.tenant_column.is_some() {
            self.id_types.insert(entry.id_type);
        }
        let shown = match &alias {
            Some(alias) if *alias != entry.name => format!("`{}` (alias `{alias}`)", entry.name),
            _ => format!("`{}`", entry.name),
        };
        Ok(Ref {
            binding: alias.clone().unwrap_or_else(|| entry.name.clone()),
            table: entry.name.clone(),
            unaliased: alias
                .is_none()
                .then(|| (entry.schema.clone(), entry.name.clone())),
            source: match &entry.tenant_column {
                Some(column) => Source::Tenant {
                    column: column.clone(),
                },
                None => Source::Shared,
            },
            proven: false,
            shown,
            at,
            nullable: false,
        })
    }

    /// The manifest's entry for a table name; an unqualified name is
    /// qualified with its schema in the expanded SQL.
    fn entry(
        &mut self,
        name: &ObjectName,
        parts: &[String],
        at: Location,
    ) -> Result<TableEntry, CheckError> {
        let missing = || {
            CheckError::at(
                format!(
                    "table `{name}` is not in the tenancy manifest ({FILE_NAME}). If it was created since, regenerate the manifest with `tenancy manifest --database-url URL`; views and foreign tables are not supported"
                ),
                at,
            )
        };
        match parts {
            [table] => {
                let mut found = self.manifest.named(table);
                let entry = found.next().cloned().ok_or_else(missing)?;
                if let Some(other) = found.next() {
                    return Err(CheckError::at(
                        format!(
                            "table `{table}` is in schemas `{}` and `{}`: qualify it with its schema",
                            entry.schema, other.schema
                        ),
                        at,
                    ));
                }
                self.qualify.push((at, entry.schema.clone()));
                Ok(entry)
            }
            [schema, table] => self
                .manifest
                .get(schema, table)
                .cloned()
                .ok_or_else(missing),
            _ => Err(CheckError::at(
                format!("`{name}`: write tables as `table` or `schema.table`"),
                at,
            )),
        }
    }

    /// A set-returning function in FROM: only those that read no table.
    fn function(
        &mut self,
        name: &ObjectName,
        alias: Option<&TableAlias>,
    ) -> Result<Ref, CheckError> {
        let at = name.span().start;
        self.seen.insert(key(at));
        let function = names::last(name).unwrap_or_default();
        if names::parts(name).is_none_or(|p| p.len() != 1)
            || !TABLE_FUNCTIONS.contains(&function.as_str())
        {
            return Err(CheckError::at(
                format!(
                    "`{name}` in FROM: a function can read any table, so the tenancy checker allows only {}",
                    TABLE_FUNCTIONS.join(", ")
                ),
                at,
            ));
        }
        Ok(Ref::other(
            alias.map_or(function, |a| names::fold(&a.name)),
            at,
        ))
    }
}

/// The `ON`/`USING` of a join, and which operands it filters.
fn join_filters(join: &Join) -> Result<(Option<&JoinConstraint>, Filters), CheckError> {
    Ok(match &join.join_operator {
        JoinOperator::Join(c) | JoinOperator::Inner(c) | JoinOperator::CrossJoin(c) => {
            (Some(c), Filters::Both)
        }
        JoinOperator::Left(c) | JoinOperator::LeftOuter(c) => (Some(c), Filters::Right),
        JoinOperator::Right(c) | JoinOperator::RightOuter(c) => (Some(c), Filters::Left),
        JoinOperator::FullOuter(c) => (Some(c), Filters::Neither),
        _ => {
            return Err(CheckError::at(
                "the tenancy checker supports JOIN, LEFT, RIGHT, FULL and CROSS JOIN only",
                join.relation.span().start,
            ));
        }
    })
}

/// The error for an unproven tenant-table reference, with the fix.
fn unscoped(r: &Ref, refs: &[Ref]) -> CheckError {
    let column = r.tenant_column().unwrap_or("tenant_id");
    let mut fix = format!("add `{b}.{column} = $tenant`", b = r.binding);
    if let Some(other) = refs
        .iter()
        .find(|o| o.proven && o.tenant_column().is_some())
    {
        let _ = write!(
            fix,
            " or join it on `{b}.{column} = {o}.{oc}`",
            b = r.binding,
            o = other.binding,
            oc = other.tenant_column().unwrap_or("tenant_id"),
        );
    }
    let place = if r.nullable {
        "to its own ON clause (it is on the nullable side of an outer join)"
    } else {
        "as a top-level AND condition of its WHERE or ON clause (a condition under OR proves nothing)"
    };
    CheckError::at(
        format!("{} is not scoped to the tenant: {fix}, {place}", r.shown),
        r.at,
    )
}

/// Whether a statement expression is the placeholder for the tenant.
pub(crate) fn is_tenant_param(expr: &Expr) -> bool {
    proof::is_tenant_param(expr)
}

#[cfg(test)]
mod tests {
    use sqlparser::dialect::PostgreSqlDialect;
    use sqlparser::parser::Parser;

    use super::*;

    fn parse(sql: &str) -> Statement {
        match Parser::parse_sql(&PostgreSqlDialect {}, sql) {
            Ok(mut statements) if statements.len() == 1 => statements.remove(0),
            other => panic!("{sql}: {other:?}"),
        }
    }

    /// A table the walk did not classify is refused at its own position,
    /// even when another table of the statement was classified.
    #[test]
    fn the_safety_net_refuses_a_table_the_walk_did_not_reach() {
        let manifest = Manifest::new(vec![TableEntry::tenant("public", "orders", "tenant_id")]);
        let walked = parse(&format!(
            "SELECT * FROM orders WHERE tenant_id = {TENANT_PARAM}"
        ));
        let mut checker = Checker::new(&manifest);
        checker.statement(&walked).unwrap_or_else(|e| panic!("{e}"));
        assert!(checker.all_classified(&walked).is_ok());
        // Same statement text, with a second table the walk never saw.
        let other = parse(&format!(
            "SELECT * FROM orders WHERE tenant_id = {TENANT_PARAM} AND EXISTS (SELECT 1 FROM payments)"
        ));
        let error = checker.all_classified(&other).err().map(|e| e.to_string());
        let error = error.unwrap_or_default();
        assert!(
            error.contains("cannot follow how `payments` is used"),
            "{error}"
        );
    }
}

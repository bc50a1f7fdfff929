//! [`Grouped`]: a condition in parentheses, so that nothing it contains can
//! bind to the tenant condition next to it.
//!
//! diesel joins `filter` conditions with a bare `AND`. Its own `or` groups
//! itself, but a `dsl::sql("a OR b")` fragment (or any expression that does
//! not) would render `tenant_id = $1 AND a OR b`, which SQL reads as
//! `(tenant_id = $1 AND a) OR b`: every tenant's rows. Every condition added
//! to a [`Scoped`](crate::Scoped) query is grouped first.

use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;

/// `(condition)`.
#[derive(Debug, Clone, Copy, QueryId, ValidGrouping)]
pub struct Grouped<P>(pub(crate) P);

impl<P: Expression> Expression for Grouped<P> {
    type SqlType = P::SqlType;
}

impl<P, DB> QueryFragment<DB> for Grouped<P>
where
    P: QueryFragment<DB>,
    DB: Backend,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("(");
        self.0.walk_ast(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}

impl<P, QS> AppearsOnTable<QS> for Grouped<P> where P: AppearsOnTable<QS> {}

impl<P, QS> SelectableExpression<QS> for Grouped<P> where P: SelectableExpression<QS> {}

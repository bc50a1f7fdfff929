//! [`JoinCondition`]: the `ON` clause of a scoped join: the joined table's
//! tenant condition, `AND` the caller's condition in parentheses.

use diesel::backend::Backend;
use diesel::expression::{AppearsOnTable, Expression, SelectableExpression, ValidGrouping};
use diesel::query_builder::{AstPass, QueryFragment, QueryId};
use diesel::result::QueryResult;
use diesel::sql_types::Bool;

/// `(tenant) AND (on)`: `tenant` is the joined table's tenant condition,
/// `on` the caller's condition, grouped so that nothing in it (an `OR` in a
/// `dsl::sql` fragment) binds to the tenant condition.
#[derive(Debug, Clone, Copy, QueryId, ValidGrouping)]
pub struct JoinCondition<T, On> {
    pub(crate) tenant: T,
    pub(crate) on: On,
}

impl<T, On> Expression for JoinCondition<T, On>
where
    T: Expression<SqlType = Bool>,
    On: Expression<SqlType = Bool>,
{
    type SqlType = Bool;
}

impl<T, On, DB> QueryFragment<DB> for JoinCondition<T, On>
where
    T: QueryFragment<DB>,
    On: QueryFragment<DB>,
    DB: Backend,
{
    fn walk_ast<'b>(&'b self, mut out: AstPass<'_, 'b, DB>) -> QueryResult<()> {
        out.push_sql("(");
        self.tenant.walk_ast(out.reborrow())?;
        out.push_sql(") AND (");
        self.on.walk_ast(out.reborrow())?;
        out.push_sql(")");
        Ok(())
    }
}

impl<T, On, QS> AppearsOnTable<QS> for JoinCondition<T, On>
where
    Self: Expression,
    T: AppearsOnTable<QS>,
    On: AppearsOnTable<QS>,
{
}

impl<T, On, QS> SelectableExpression<QS> for JoinCondition<T, On>
where
    Self: AppearsOnTable<QS>,
    T: SelectableExpression<QS>,
    On: SelectableExpression<QS>,
{
}

//! [`Select`]: scoped `SELECT`.

use std::marker::PhantomData;

use sqlx::postgres::PgRow;
use sqlx::{AssertSqlSafe, FromRow};

use super::parts::Parts;
use super::{BoundToTenant, Unbound, binding_methods, filter_methods};
use crate::{Column, Result, TenantTable, TenantTx};

/// Sort direction for [`Select::order_by`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// Smallest first.
    Asc,
    /// Largest first.
    Desc,
}

/// A scoped `SELECT` on table `T`; runs only when `S` is [`Bound`](super::Bound).
/// Cloning it copies its conditions and bound values (a base query to
/// reuse).
#[derive(Debug, Clone)]
pub struct Select<T, S> {
    parts: Parts,
    columns: String,
    order: Vec<String>,
    limit: Option<i64>,
    offset: Option<i64>,
    state: S,
    table: PhantomData<T>,
}

impl<T: TenantTable> Select<T, Unbound> {
    pub(crate) fn new() -> Self {
        Self {
            parts: Parts::default(),
            columns: "*".to_owned(),
            order: Vec::new(),
            limit: None,
            offset: None,
            state: Unbound,
            table: PhantomData,
        }
    }
}

impl<T: TenantTable, S> Select<T, S> {
    fn with_state<S2>(self, state: S2) -> Select<T, S2> {
        Select {
            parts: self.parts,
            columns: self.columns,
            order: self.order,
            limit: self.limit,
            offset: self.offset,
            state,
            table: PhantomData,
        }
    }

    /// Selects these columns instead of `*`.
    #[must_use]
    pub fn columns(mut self, columns: &[&'static str]) -> Self {
        let quoted: Vec<String> = columns.iter().map(|c| self.parts.column(c)).collect();
        self.columns = quoted.join(", ");
        self
    }

    /// Selects `column` (the first call replaces `*`, later ones add).
    #[must_use]
    pub fn column<C: Column<T>>(mut self, column: C) -> Self {
        let col = self.parts.column(column.name());
        if self.columns == "*" {
            self.columns = col;
        } else {
            self.columns.push_str(", ");
            self.columns.push_str(&col);
        }
        self
    }

    /// Adds `ORDER BY column direction`.
    #[must_use]
    pub fn order_by<C: Column<T>>(mut self, column: C, order: Order) -> Self {
        let col = self.parts.column(column.name());
        let dir = match order {
            Order::Asc => "ASC",
            Order::Desc => "DESC",
        };
        self.order.push(format!("{col} {dir}"));
        self
    }

    /// Adds `LIMIT n`.
    #[must_use]
    pub fn limit(mut self, n: i64) -> Self {
        self.limit = Some(n);
        self
    }

    /// Adds `OFFSET n`: skips the first `n` rows (for pages, with
    /// [`order_by`](Self::order_by) and [`limit`](Self::limit)).
    #[must_use]
    pub fn offset(mut self, n: i64) -> Self {
        self.offset = Some(n);
        self
    }
}

binding_methods!(Select);
filter_methods!(Select);

impl<T: TenantTable, S> Select<T, S> {
    fn sql(&mut self, tx: &TenantTx<T::Id>) -> Result<String>
    where
        S: BoundToTenant<T::Id>,
    {
        let prepared = self.parts.prepare::<T>(self.state.bound(), tx)?;
        let mut sql = format!(
            "SELECT {} FROM {}{}",
            self.columns,
            prepared.table,
            self.parts.where_clause(&prepared)
        );
        if !self.order.is_empty() {
            sql.push_str(" ORDER BY ");
            sql.push_str(&self.order.join(", "));
        }
        if let Some(limit) = self.limit {
            let placeholder = self.parts.bind("LIMIT", limit);
            sql.push_str(" LIMIT ");
            sql.push_str(&placeholder);
        }
        if let Some(offset) = self.offset {
            let placeholder = self.parts.bind("OFFSET", offset);
            sql.push_str(" OFFSET ");
            sql.push_str(&placeholder);
        }
        Ok(sql)
    }

    /// All matching rows of the bound tenant.
    pub async fn fetch_all<R>(mut self, tx: &mut TenantTx<T::Id>) -> Result<Vec<R>>
    where
        S: BoundToTenant<T::Id>,
        R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let sql = self.sql(tx)?;
        Ok(self.parts.query_as(sql, tx).fetch_all(tx.conn()).await?)
    }

    /// The first matching row, if any.
    pub async fn fetch_optional<R>(mut self, tx: &mut TenantTx<T::Id>) -> Result<Option<R>>
    where
        S: BoundToTenant<T::Id>,
        R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let sql = self.sql(tx)?;
        Ok(self
            .parts
            .query_as(sql, tx)
            .fetch_optional(tx.conn())
            .await?)
    }

    /// Exactly one matching row; `sqlx::Error::RowNotFound` if there is none.
    pub async fn fetch_one<R>(mut self, tx: &mut TenantTx<T::Id>) -> Result<R>
    where
        S: BoundToTenant<T::Id>,
        R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let sql = self.sql(tx)?;
        Ok(self.parts.query_as(sql, tx).fetch_one(tx.conn()).await?)
    }

    /// The number of matching rows. With [`limit`](Self::limit) or
    /// [`offset`](Self::offset), the number of rows on that page (the
    /// order does not change a count).
    pub async fn count(mut self, tx: &mut TenantTx<T::Id>) -> Result<i64>
    where
        S: BoundToTenant<T::Id>,
    {
        let paged = self.limit.is_some() || self.offset.is_some();
        if paged {
            "1".clone_into(&mut self.columns);
        } else {
            "count(*)".clone_into(&mut self.columns);
            self.order.clear();
        }
        let page = self.sql(tx)?;
        let sql = if paged {
            format!("SELECT count(*) FROM ({page}) AS page")
        } else {
            page
        };
        let n = sqlx::query_scalar_with(AssertSqlSafe(sql), self.parts.take_args())
            .persistent(tx.named_statements())
            .fetch_one(tx.conn())
            .await?;
        Ok(n)
    }
}

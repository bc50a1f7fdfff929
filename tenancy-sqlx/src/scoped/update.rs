//! [`Update`]: scoped `UPDATE`.

use std::marker::PhantomData;

use sqlx::FromRow;
use sqlx::postgres::PgRow;

use super::parts::{Parts, Returning};
use super::{BoundToTenant, Unbound, binding_methods, filter_methods};
use crate::{Column, Error, Result, TenantTable, TenantTx, ValueOf};

/// A scoped `UPDATE` of table `T`; runs only when `S` is [`Bound`](super::Bound). It only
/// touches the bound tenant's rows and can never change the tenant column.
#[derive(Debug, Clone)]
pub struct Update<T, S> {
    parts: Parts,
    sets: Vec<String>,
    returning: Returning,
    state: S,
    table: PhantomData<T>,
}

impl<T: TenantTable> Update<T, Unbound> {
    pub(crate) fn new() -> Self {
        Self {
            parts: Parts::default(),
            sets: Vec::new(),
            returning: Returning::default(),
            state: Unbound,
            table: PhantomData,
        }
    }
}

impl<T: TenantTable, S> Update<T, S> {
    fn with_state<S2>(self, state: S2) -> Update<T, S2> {
        Update {
            parts: self.parts,
            sets: self.sets,
            returning: self.returning,
            state,
            table: PhantomData,
        }
    }

    /// Adds `SET column = value`. Setting the tenant column is an error
    /// ([`Error::TenantColumn`]): rows never move between tenants.
    #[must_use]
    pub fn set<'t, C, V>(self, column: C, value: V) -> Self
    where
        C: Column<T>,
        V: ValueOf<C::Value> + sqlx::Encode<'t, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        self.assign(column, value, |col, placeholder| {
            format!("{col} = {placeholder}")
        })
    }

    /// Adds `SET column = column + value` (a counter, a stock level, a
    /// price in cents; a negative value subtracts).
    #[must_use]
    pub fn set_add<'t, C, V>(self, column: C, value: V) -> Self
    where
        C: Column<T>,
        V: ValueOf<C::Value> + sqlx::Encode<'t, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        self.assign(column, value, |col, placeholder| {
            format!("{col} = {col} + {placeholder}")
        })
    }

    /// Binds `value` for `column` (never the tenant column) and adds the
    /// assignment `expr(column, placeholder)` builds.
    fn assign<'t, C, V>(mut self, column: C, value: V, expr: fn(&str, &str) -> String) -> Self
    where
        C: Column<T>,
        V: sqlx::Encode<'t, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        let (col, placeholder) = self.parts.assign::<T, V>(column.name(), value);
        self.sets.push(expr(&col, &placeholder));
        self
    }

    /// Adds `SET column = now()`: the transaction's start time.
    #[must_use]
    pub fn set_now<C: Column<T>>(mut self, column: C) -> Self {
        let col = self.parts.writable_column::<T>(column.name());
        self.sets.push(format!("{col} = now()"));
        self
    }

    /// Returns `column` (instead of every column) from
    /// [`returning`](Self::returning); call it once per column.
    #[must_use]
    pub fn return_column<C: Column<T>>(mut self, column: C) -> Self {
        self.returning.add(&mut self.parts, column.name());
        self
    }
}

binding_methods!(Update);
filter_methods!(Update);

impl<T: TenantTable, S> Update<T, S> {
    fn sql(&mut self, tx: &TenantTx<T::Id>, returning: bool) -> Result<String>
    where
        S: BoundToTenant<T::Id>,
    {
        if self.sets.is_empty() {
            return Err(Error::EmptyUpdate);
        }
        let prepared = self.parts.prepare::<T>(self.state.bound(), tx)?;
        let mut sql = format!(
            "UPDATE {} SET {}{}",
            prepared.table,
            self.sets.join(", "),
            self.parts.where_clause(&prepared)
        );
        if returning {
            self.returning.append_to(&mut sql);
        }
        Ok(sql)
    }

    /// Runs the update; returns the number of rows changed.
    pub async fn execute(mut self, tx: &mut TenantTx<T::Id>) -> Result<u64>
    where
        S: BoundToTenant<T::Id>,
    {
        let sql = self.sql(tx, false)?;
        self.parts.execute(sql, tx).await
    }

    /// Runs the update and returns the changed rows (`RETURNING *`, or the
    /// columns named with [`return_column`](Self::return_column)).
    pub async fn returning<R>(mut self, tx: &mut TenantTx<T::Id>) -> Result<Vec<R>>
    where
        S: BoundToTenant<T::Id>,
        R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let sql = self.sql(tx, true)?;
        Ok(self.parts.query_as(sql, tx).fetch_all(tx.conn()).await?)
    }
}

//! [`Insert`]: scoped `INSERT`.

use std::marker::PhantomData;

use sqlx::FromRow;
use sqlx::postgres::PgRow;

use super::parts::{Parts, Prepared, Returning};
use super::{BoundToTenant, Unbound, binding_methods};
use crate::{Column, Result, TenantTable, TenantTx, ValueOf};

/// A scoped `INSERT` of one row into table `T`; runs only when `S` is
/// [`Bound`](super::Bound). The tenant column is filled from the bound tenant; setting it
/// with [`value`](Insert::value) is an error.
#[derive(Debug, Clone)]
pub struct Insert<T, S> {
    parts: Parts,
    columns: Vec<String>,
    values: Vec<String>,
    returning: Returning,
    state: S,
    table: PhantomData<T>,
}

impl<T: TenantTable> Insert<T, Unbound> {
    pub(crate) fn new() -> Self {
        Self {
            parts: Parts::default(),
            columns: Vec::new(),
            values: Vec::new(),
            returning: Returning::default(),
            state: Unbound,
            table: PhantomData,
        }
    }
}

impl<T: TenantTable, S> Insert<T, S> {
    fn with_state<S2>(self, state: S2) -> Insert<T, S2> {
        Insert {
            parts: self.parts,
            columns: self.columns,
            values: self.values,
            returning: self.returning,
            state,
            table: PhantomData,
        }
    }

    /// Sets `column` to `value` in the new row. The tenant column cannot be
    /// set: the query then fails with [`Error::TenantColumn`](crate::Error::TenantColumn).
    #[must_use]
    pub fn value<'t, C, V>(mut self, column: C, value: V) -> Self
    where
        C: Column<T>,
        V: ValueOf<C::Value> + sqlx::Encode<'t, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        let (col, placeholder) = self.parts.assign::<T, V>(column.name(), value);
        self.columns.push(col);
        self.values.push(placeholder);
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

binding_methods!(Insert);

impl<T: TenantTable, S> Insert<T, S> {
    fn sql(&mut self, tx: &TenantTx<T::Id>, returning: bool) -> Result<String>
    where
        S: BoundToTenant<T::Id>,
    {
        let Prepared {
            table,
            tenant_column,
            tenant,
        } = self.parts.prepare::<T>(self.state.bound(), tx)?;
        let mut columns = vec![tenant_column];
        columns.extend(self.columns.iter().cloned());
        let mut values = vec![tenant];
        values.extend(self.values.iter().cloned());
        let mut sql = format!(
            "INSERT INTO {table} ({}) VALUES ({})",
            columns.join(", "),
            values.join(", ")
        );
        if returning {
            self.returning.append_to(&mut sql);
        }
        Ok(sql)
    }

    /// Inserts the row; returns the number of rows inserted (1).
    pub async fn execute(mut self, tx: &mut TenantTx<T::Id>) -> Result<u64>
    where
        S: BoundToTenant<T::Id>,
    {
        let sql = self.sql(tx, false)?;
        self.parts.execute(sql, tx).await
    }

    /// Inserts the row and returns it (`RETURNING *`, or the columns named
    /// with [`return_column`](Self::return_column)), with the columns the
    /// database filled in (ids, defaults, the tenant).
    pub async fn returning<R>(mut self, tx: &mut TenantTx<T::Id>) -> Result<R>
    where
        S: BoundToTenant<T::Id>,
        R: for<'r> FromRow<'r, PgRow> + Send + Unpin,
    {
        let sql = self.sql(tx, true)?;
        Ok(self.parts.query_as(sql, tx).fetch_one(tx.conn()).await?)
    }
}

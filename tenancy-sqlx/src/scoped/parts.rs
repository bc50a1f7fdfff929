//! What every scoped builder accumulates: conditions and bound values.

use sqlx::postgres::{PgArguments, PgRow};
use sqlx::query::QueryAs;
use sqlx::{Arguments, AssertSqlSafe, FromRow, Postgres};
use tenancy_core::TenantIdType;
use tenancy_core::rls::Ident;

use super::Bound;
use crate::{Error, Result, TenantTable, TenantTx};

/// Conditions, bound values and the first error met while building.
/// Errors are kept until the query runs, so building stays chainable.
#[derive(Default)]
pub(crate) struct Parts {
    pub(crate) args: PgArguments,
    pub(crate) conditions: Vec<String>,
    pub(crate) error: Option<Error>,
}

impl std::fmt::Debug for Parts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Parts")
            .field("conditions", &self.conditions)
            .field("args", &self.args.len())
            .field("error", &self.error)
            .finish()
    }
}

impl Clone for Parts {
    fn clone(&self) -> Self {
        Self {
            args: self.args.clone(),
            conditions: self.conditions.clone(),
            error: self.error.as_ref().map(clone_build_error),
        }
    }
}

/// A copy of an error met while building (only names, the tenant column
/// and encoding fail there); an encoding error keeps its message.
fn clone_build_error(err: &Error) -> Error {
    match err {
        Error::InvalidName(name) => Error::InvalidName(name.clone()),
        Error::TenantColumn { table, column } => Error::TenantColumn { table, column },
        Error::Encode { column, source } => Error::Encode {
            column,
            source: source.to_string().into(),
        },
        other => Error::Encode {
            column: "",
            source: other.to_string().into(),
        },
    }
}

/// The `RETURNING` list of a write: every column, or the ones named.
#[derive(Debug, Clone, Default)]
pub(crate) struct Returning {
    columns: Vec<String>,
}

impl Returning {
    /// Adds a validated, quoted column.
    pub(crate) fn add(&mut self, parts: &mut Parts, column: &'static str) {
        let col = parts.column(column);
        self.columns.push(col);
    }

    /// ` RETURNING *` or ` RETURNING a, b`.
    pub(crate) fn append_to(&self, sql: &mut String) {
        sql.push_str(" RETURNING ");
        if self.columns.is_empty() {
            sql.push('*');
        } else {
            sql.push_str(&self.columns.join(", "));
        }
    }
}

impl Parts {
    fn fail(&mut self, err: Error) {
        if self.error.is_none() {
            self.error = Some(err);
        }
    }

    /// A validated, quoted column name; records an error and returns an
    /// empty string otherwise.
    pub(crate) fn column(&mut self, name: &str) -> String {
        match Ident::new(name) {
            Ok(ident) => ident.sql(),
            Err(err) => {
                self.fail(err.into());
                String::new()
            }
        }
    }

    /// A column that a write may set: never the tenant column.
    pub(crate) fn writable_column<T: TenantTable>(&mut self, name: &'static str) -> String {
        if name == T::TENANT_COLUMN {
            self.fail(Error::TenantColumn {
                table: T::TABLE,
                column: T::TENANT_COLUMN,
            });
        }
        self.column(name)
    }

    /// A value a write gives `column` (never the tenant column): the quoted
    /// column and the value's placeholder.
    pub(crate) fn assign<'t, T: TenantTable, V>(
        &mut self,
        column: &'static str,
        value: V,
    ) -> (String, String)
    where
        V: sqlx::Encode<'t, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        let col = self.writable_column::<T>(column);
        (col, self.bind(column, value))
    }

    /// Binds `value` and returns its placeholder (`$n`).
    pub(crate) fn bind<'t, V>(&mut self, column: &'static str, value: V) -> String
    where
        V: sqlx::Encode<'t, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        if let Err(source) = self.args.add(value) {
            self.fail(Error::Encode { column, source });
        }
        format!("${}", self.args.len())
    }

    /// Adds `column <op> $n` (`op` is one of the crate's fixed operators,
    /// never input).
    pub(crate) fn compare<'t, V>(&mut self, column: &'static str, op: &'static str, value: V)
    where
        V: sqlx::Encode<'t, sqlx::Postgres> + sqlx::Type<sqlx::Postgres>,
    {
        let col = self.column(column);
        let placeholder = self.bind(column, value);
        self.conditions.push(format!("{col} {op} {placeholder}"));
    }

    /// Adds `column IS NULL` or `column IS NOT NULL`.
    pub(crate) fn null(&mut self, column: &'static str, is_null: bool) {
        let col = self.column(column);
        let not = if is_null { "" } else { "NOT " };
        self.conditions.push(format!("{col} IS {not}NULL"));
    }

    /// Checks the builder and the transaction's tenant, then binds the
    /// tenant id. Returns the quoted table, tenant column and the tenant's
    /// placeholder.
    pub(crate) fn prepare<T: TenantTable>(
        &mut self,
        bound: &Bound<T::Id>,
        tx: &TenantTx<T::Id>,
    ) -> Result<Prepared> {
        if let Some(err) = self.error.take() {
            return Err(err);
        }
        check_tenant(bound, tx)?;
        let table = Ident::new(T::TABLE)?.sql();
        let tenant_column = Ident::new(T::TENANT_COLUMN)?.sql();
        let tenant = self.bind(T::TENANT_COLUMN, bound.tenant.id_ref().value().clone());
        if let Some(err) = self.error.take() {
            return Err(err);
        }
        Ok(Prepared {
            table,
            tenant_column,
            tenant,
        })
    }

    /// ` WHERE tenant = $t AND cond AND ...`: the tenant condition always first.
    pub(crate) fn where_clause(&self, prepared: &Prepared) -> String {
        let mut clause = format!(" WHERE {} = {}", prepared.tenant_column, prepared.tenant);
        for cond in &self.conditions {
            clause.push_str(" AND ");
            clause.push_str(cond);
        }
        clause
    }

    /// The bound values, leaving the builder empty.
    pub(crate) fn take_args(&mut self) -> PgArguments {
        std::mem::take(&mut self.args)
    }

    /// `sql` with the bound values, prepared as `tx` prepares statements.
    pub(crate) fn query_as<R, K>(
        &mut self,
        sql: String,
        tx: &TenantTx<K>,
    ) -> QueryAs<'static, Postgres, R, PgArguments>
    where
        R: for<'r> FromRow<'r, PgRow>,
        K: TenantIdType,
    {
        sqlx::query_as_with(AssertSqlSafe(sql), self.take_args()).persistent(tx.named_statements())
    }

    /// Runs `sql` with the bound values on `tx`; the rows it changed.
    pub(crate) async fn execute<K: TenantIdType>(
        &mut self,
        sql: String,
        tx: &mut TenantTx<K>,
    ) -> Result<u64> {
        let done = sqlx::query_with(AssertSqlSafe(sql), self.take_args())
            .persistent(tx.named_statements())
            .execute(tx.conn())
            .await?;
        Ok(done.rows_affected())
    }
}

/// The tenant-specific pieces of a statement, ready to assemble.
pub(crate) struct Prepared {
    pub(crate) table: String,
    pub(crate) tenant_column: String,
    pub(crate) tenant: String,
}

pub(crate) fn check_tenant<K: TenantIdType>(bound: &Bound<K>, tx: &TenantTx<K>) -> Result<()> {
    if bound.tenant.id_ref() == tx.tenant().id_ref() {
        Ok(())
    } else {
        Err(tenancy_core::TenantError::Mismatch {
            expected: bound.tenant.id_ref().to_string(),
            found: tx.tenant().id_ref().to_string(),
        }
        .into())
    }
}

//! [`TenantTx`]: a diesel transaction bound to one tenant.

use diesel::connection::SimpleConnection;
use diesel::pg::Pg;
use diesel::query_builder::InsertStatement;
use diesel::query_builder::QueryFragment;
use diesel::query_dsl::LoadQuery;
use diesel::query_dsl::methods::ExecuteDsl;
use diesel::{OptionalExtension, PgConnection, RunQueryDsl};
use tenancy_core::Tenant;
use tenancy_core::uuid::Uuid;

use crate::scoped::{Scoped, TenantTable};
use crate::tenant_column_writes::refuse_tenant_column_writes;
use crate::{DieselTenantId, Result};

/// The name of table `T`'s tenant column.
pub(crate) fn tenant_column<T: TenantTable>() -> &'static str {
    <T::TenantColumn as diesel::Column>::NAME
}

/// A transaction bound to one tenant; the tenant is set transaction-locally
/// for PostgreSQL row-level security. Handed to the closure of
/// [`TenantPool::transaction`](crate::TenantPool::transaction).
///
/// It runs only [`Scoped`] queries (made with
/// [`for_tenant`](crate::ForTenantDsl::for_tenant)): a query that does not
/// name a tenant does not compile here. Inserts get the tenant column from
/// its default, the transaction's tenant. For raw SQL there is
/// [`dangerous_raw_connection`](TenantTx::dangerous_raw_connection): row-level security still
/// applies to it.
pub struct TenantTx<'a, K = Uuid> {
    pub(crate) conn: &'a mut PgConnection,
    pub(crate) tenant: &'a Tenant<K>,
    /// Whether raw SQL had the connection, which may have changed the
    /// session (or swapped the connection).
    pub(crate) raw: bool,
}

impl<K: DieselTenantId> std::fmt::Debug for TenantTx<'_, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantTx")
            .field("tenant", self.tenant.id_ref())
            .finish_non_exhaustive()
    }
}

impl<K: DieselTenantId> TenantTx<'_, K> {
    /// The tenant of this transaction.
    pub fn tenant(&self) -> &Tenant<K> {
        self.tenant
    }

    fn check<Q>(&self, query: &Scoped<Q, K>) -> Result<()> {
        query.ensure_tenant(self.tenant)
    }

    /// Loads all rows of a scoped query.
    pub fn fetch_all<'q, U, Q>(&mut self, query: Scoped<Q, K>) -> Result<Vec<U>>
    where
        Q: RunQueryDsl<PgConnection> + LoadQuery<'q, PgConnection, U>,
    {
        self.check(&query)?;
        Ok(query.query.load(self.conn)?)
    }

    /// Loads the first row of a scoped query, if any.
    pub fn fetch_optional<'q, U, Q>(&mut self, query: Scoped<Q, K>) -> Result<Option<U>>
    where
        Q: RunQueryDsl<PgConnection> + LoadQuery<'q, PgConnection, U>,
    {
        self.check(&query)?;
        Ok(query.query.get_result(self.conn).optional()?)
    }

    /// Runs a scoped `UPDATE` or `DELETE`; returns the number of rows changed.
    ///
    /// An `UPDATE` that sets the tenant column is refused
    /// ([`Error::TenantColumn`](crate::Error::TenantColumn)) before it is
    /// sent.
    pub fn execute_scoped<Q>(&mut self, statement: Scoped<Q, K>) -> Result<usize>
    where
        Q: RunQueryDsl<PgConnection> + ExecuteDsl<PgConnection> + QueryFragment<Pg>,
    {
        self.check(&statement)?;
        refuse_tenant_column_writes(&statement.query, statement.tenant_column)?;
        Ok(statement.query.execute(self.conn)?)
    }

    /// Runs an insert into a tenant table; returns the number of rows.
    ///
    /// Leave the tenant column out of the values: its default (from
    /// [`TenantPolicy::column_sql`](tenancy_core::rls::TenantPolicy::column_sql))
    /// is this transaction's tenant. A statement that names the tenant
    /// column (in its values or an `ON CONFLICT ... DO UPDATE`) is refused
    /// ([`Error::TenantColumn`](crate::Error::TenantColumn)) before it is
    /// sent; with row-level security on, the policy's `WITH CHECK` would
    /// refuse another tenant's id as well.
    pub fn insert<T, U, Op, Ret>(
        &mut self,
        statement: InsertStatement<T, U, Op, Ret>,
    ) -> Result<usize>
    where
        T: TenantTable<Id = K>,
        InsertStatement<T, U, Op, Ret>: ExecuteDsl<PgConnection> + QueryFragment<Pg>,
    {
        refuse_tenant_column_writes(&statement, tenant_column::<T>())?;
        Ok(statement.execute(self.conn)?)
    }

    /// Runs an insert into a tenant table that has a `RETURNING` clause and
    /// returns the inserted row(s); the tenant column is refused as in
    /// [`insert`](Self::insert).
    pub fn insert_returning<'q, R, T, U, Op, Ret>(
        &mut self,
        statement: InsertStatement<T, U, Op, Ret>,
    ) -> Result<Vec<R>>
    where
        T: TenantTable<Id = K>,
        InsertStatement<T, U, Op, Ret>: LoadQuery<'q, PgConnection, R> + QueryFragment<Pg>,
    {
        refuse_tenant_column_writes(&statement, tenant_column::<T>())?;
        Ok(statement.load(self.conn)?)
    }

    /// The connection, for raw SQL (`diesel::sql_query`, `batch_execute`):
    /// an escape hatch, named so. What you give up: the compile-time scoping
    /// (nothing checks that raw SQL names the tenant) and the cheap end of
    /// the transaction (see below). It is inside this tenant's transaction,
    /// so row-level security still filters every statement.
    ///
    /// Raw SQL can leave state on the connection that outlives the
    /// transaction (a session-level `SET`, temporary tables, `LISTEN`,
    /// advisory locks, prepared statements), so once this was called the
    /// session is reset in the message that ends the transaction
    /// ([`tenancy_core::reset`], one more round trip), and the connection is
    /// discarded instead of returned to the pool when that fails or the
    /// transaction cannot be ended: for example because raw SQL left
    /// prepared statements (the commit then fails), or because another
    /// connection was swapped in through this `&mut`.
    pub fn dangerous_raw_connection(&mut self) -> &mut PgConnection {
        self.raw = true;
        self.conn
    }
}

/// Runs `sql` on `conn`, ignoring the result: best effort after a failure.
pub(crate) fn best_effort(conn: &mut PgConnection, sql: &str) {
    let _ = conn.batch_execute(sql);
}

//! [`TenantTx`]: a diesel transaction bound to one tenant.

use diesel::connection::SimpleConnection;
use diesel::query_builder::InsertStatement;
use diesel::query_dsl::LoadQuery;
use diesel::query_dsl::methods::ExecuteDsl;
use diesel::{OptionalExtension, PgConnection, RunQueryDsl};
use tenancy_core::Tenant;

use crate::Result;
use crate::scoped::{Scoped, TenantScoped};

/// A transaction bound to one tenant; the tenant is set transaction-locally
/// for PostgreSQL row-level security. Handed to the closure of
/// [`TenantPool::transaction`](crate::TenantPool::transaction).
///
/// It runs only [`Scoped`] queries (made with
/// [`for_tenant`](crate::ForTenantDsl::for_tenant)): a query that does not
/// name a tenant does not compile here. Inserts get the tenant column from
/// its default, the transaction's tenant. For raw SQL there is
/// [`raw_connection`](TenantTx::raw_connection): row-level security still
/// applies to it.
pub struct TenantTx<'a> {
    pub(crate) conn: &'a mut PgConnection,
    pub(crate) tenant: &'a Tenant,
    /// Whether raw SQL had the connection, which may have changed the
    /// session (or swapped the connection).
    pub(crate) raw: bool,
}

impl std::fmt::Debug for TenantTx<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantTx")
            .field("tenant", &self.tenant.id())
            .finish_non_exhaustive()
    }
}

impl TenantTx<'_> {
    /// The tenant of this transaction.
    pub fn tenant(&self) -> &Tenant {
        self.tenant
    }

    fn check<Q>(&self, query: &Scoped<Q>) -> Result<()> {
        query.ensure_tenant(self.tenant)
    }

    /// Loads all rows of a scoped query.
    pub fn fetch_all<U, Q>(&mut self, query: Scoped<Q>) -> Result<Vec<U>>
    where
        Q: RunQueryDsl<PgConnection> + for<'q> LoadQuery<'q, PgConnection, U>,
    {
        self.check(&query)?;
        Ok(query.query.load(self.conn)?)
    }

    /// Loads the first row of a scoped query, if any.
    pub fn fetch_optional<U, Q>(&mut self, query: Scoped<Q>) -> Result<Option<U>>
    where
        Q: RunQueryDsl<PgConnection> + for<'q> LoadQuery<'q, PgConnection, U>,
    {
        self.check(&query)?;
        Ok(query.query.get_result(self.conn).optional()?)
    }

    /// Runs a scoped `UPDATE` or `DELETE`; returns the number of rows changed.
    pub fn execute_scoped<Q>(&mut self, statement: Scoped<Q>) -> Result<usize>
    where
        Q: RunQueryDsl<PgConnection> + ExecuteDsl<PgConnection>,
    {
        self.check(&statement)?;
        Ok(statement.query.execute(self.conn)?)
    }

    /// Runs an insert into a tenant table; returns the number of rows.
    ///
    /// Leave the tenant column out of the values: its default (from
    /// [`TenantPolicy::column_sql`](tenancy_core::rls::TenantPolicy::column_sql))
    /// is this transaction's tenant. A value naming another tenant is
    /// refused by the policy's `WITH CHECK`.
    pub fn insert<T, U, Op, Ret>(
        &mut self,
        statement: InsertStatement<T, U, Op, Ret>,
    ) -> Result<usize>
    where
        T: TenantScoped,
        InsertStatement<T, U, Op, Ret>: ExecuteDsl<PgConnection>,
    {
        Ok(statement.execute(self.conn)?)
    }

    /// Runs an insert into a tenant table that has a `RETURNING` clause and
    /// returns the inserted row(s).
    pub fn insert_returning<R, T, U, Op, Ret>(
        &mut self,
        statement: InsertStatement<T, U, Op, Ret>,
    ) -> Result<Vec<R>>
    where
        T: TenantScoped,
        InsertStatement<T, U, Op, Ret>: for<'q> LoadQuery<'q, PgConnection, R>,
    {
        Ok(statement.load(self.conn)?)
    }

    /// The connection, for raw SQL (`diesel::sql_query`, `batch_execute`).
    /// It is inside this tenant's transaction, so row-level security still
    /// filters every statement.
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
    pub fn raw_connection(&mut self) -> &mut PgConnection {
        self.raw = true;
        self.conn
    }
}

/// Runs `sql` on `conn`, ignoring the result: best effort after a failure.
pub(crate) fn best_effort(conn: &mut PgConnection, sql: &str) {
    let _ = conn.batch_execute(sql);
}

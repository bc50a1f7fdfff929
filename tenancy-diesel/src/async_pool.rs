//! [`AsyncTenantPool`] and [`AsyncTenantTx`]: the same guarantees for
//! diesel-async (feature `async`).

use diesel::OptionalExtension;
use diesel::pg::Pg;
use diesel::query_builder::{InsertStatement, QueryFragment};
use diesel_async::methods::{ExecuteDsl, LoadQuery};
use diesel_async::pooled_connection::deadpool::{Object, Pool};
use diesel_async::{
    AnsiTransactionManager, AsyncPgConnection, RunQueryDsl, SimpleAsyncConnection,
    TransactionManager,
};
use tenancy_core::reset::{Leftovers, TxEnd, end_and_reset_sql};
use tenancy_core::rls::TenantBinding;
use tenancy_core::uuid::Uuid;
use tenancy_core::{Tenant, TenantContextOf};

use crate::scoped::{Scoped, TenantTable};
use crate::tenant_column_writes::refuse_tenant_column_writes;
use crate::tx::tenant_column;
use crate::{DieselTenantId, Error, Result};

/// A deadpool of diesel-async `AsyncPgConnection`s that hands out
/// connections only inside a tenant transaction.
///
/// ```
/// use diesel::prelude::*;
/// use diesel_async::pooled_connection::{AsyncDieselConnectionManager, deadpool::Pool};
/// use tenancy_diesel::{AsyncTenantPool, ForTenantDsl};
///
/// diesel::table! { orders (tenant_id, id) { id -> Uuid, tenant_id -> Uuid, item -> Text } }
/// tenancy_diesel::tenant_table!(orders.tenant_id);
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
/// # let database_url = db.app_url(); // the application role's URL
/// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
/// let manager = AsyncDieselConnectionManager::<diesel_async::AsyncPgConnection>::new(database_url);
/// let pool = AsyncTenantPool::new(Pool::builder(manager).build()?);
/// let mut tx = pool.begin(&acme).await?;
/// tx.insert(diesel::insert_into(orders::table).values((orders::id.eq(uuid::Uuid::new_v4()), orders::item.eq("Burger")))).await?;
/// let items: Vec<String> = tx.fetch_all(orders::table.for_tenant(&acme).select(orders::item)).await?;
/// # assert_eq!(items, ["Burger"]);
/// tx.commit().await?;
/// # Ok(()) }
/// ```
pub struct AsyncTenantPool<K = Uuid> {
    pool: Pool<AsyncPgConnection>,
    binding: TenantBinding,
    id_type: std::marker::PhantomData<fn() -> K>,
}

impl<K> Clone for AsyncTenantPool<K> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            binding: self.binding.clone(),
            id_type: std::marker::PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for AsyncTenantPool<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncTenantPool")
            .field("setting", self.binding.setting())
            .finish_non_exhaustive()
    }
}

impl AsyncTenantPool<Uuid> {
    /// Wraps `pool`; tenants are bound through `app.tenant_id`.
    pub fn new(pool: Pool<AsyncPgConnection>) -> Self {
        Self::from(pool)
    }
}

impl<K> From<Pool<AsyncPgConnection>> for AsyncTenantPool<K> {
    /// Wraps `pool`, for tenants with ids of type `K`:
    /// `AsyncTenantPool::<i64>::from(pool)`. See [`AsyncTenantPool::new`].
    fn from(pool: Pool<AsyncPgConnection>) -> Self {
        Self {
            pool,
            binding: TenantBinding::default(),
            id_type: std::marker::PhantomData,
        }
    }
}

impl<K: DieselTenantId> AsyncTenantPool<K> {
    /// Binds tenants another way (setting name, transaction options).
    #[must_use]
    pub fn with_binding(mut self, binding: TenantBinding) -> Self {
        self.binding = binding;
        self
    }

    /// Opens a transaction bound to `tenant` (`BEGIN; SET LOCAL ...` in one
    /// message). If that fails, or this future is dropped before it
    /// finished, the connection is closed instead of returned to the pool.
    pub async fn begin(&self, tenant: &Tenant<K>) -> Result<AsyncTenantTx<K>> {
        let sql = self.binding.begin_sql(tenant)?;
        let conn = self
            .pool
            .get()
            .await
            .map_err(|e| Error::AsyncPool(e.to_string()))?;
        // From here until the transaction is open, dropping `tx` (error or
        // cancellation) closes the connection.
        let mut tx = AsyncTenantTx {
            conn: Some(conn),
            tenant: tenant.clone(),
            open: true,
            raw: false,
        };
        AnsiTransactionManager::begin_transaction_sql(tx.conn()?, &sql).await?;
        Ok(tx)
    }

    /// [`begin`](Self::begin) for the current tenant of [`TenantContext`](tenancy_core::TenantContextOf);
    /// fails with `TenantError::Missing` without one.
    pub async fn begin_current(&self) -> Result<AsyncTenantTx<K>> {
        let tenant = TenantContextOf::<K>::current()?;
        self.begin(&tenant).await
    }
}

/// A diesel-async transaction bound to one tenant. Runs only [`Scoped`]
/// queries, like [`TenantTx`](crate::TenantTx).
///
/// End it with [`commit`](Self::commit) or [`rollback`](Self::rollback).
/// Dropped without either (an error, a panic, a cancelled future), its
/// connection is **closed**, not returned: PostgreSQL rolls the transaction
/// back, and no tenant or open transaction can reach the pool.
pub struct AsyncTenantTx<K = Uuid> {
    conn: Option<Object<AsyncPgConnection>>,
    tenant: Tenant<K>,
    open: bool,
    /// Whether raw SQL had the connection (see [`Self::dangerous_raw_connection`]).
    raw: bool,
}

impl<K: DieselTenantId> std::fmt::Debug for AsyncTenantTx<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AsyncTenantTx")
            .field("tenant", self.tenant.id_ref())
            .finish_non_exhaustive()
    }
}

impl<K: DieselTenantId> AsyncTenantTx<K> {
    /// The tenant of this transaction.
    pub fn tenant(&self) -> &Tenant<K> {
        &self.tenant
    }

    fn conn(&mut self) -> Result<&mut AsyncPgConnection> {
        match self.conn.as_mut() {
            Some(conn) => Ok(conn),
            None => Err(Error::Database(diesel::result::Error::NotInTransaction)),
        }
    }

    fn check<Q>(&self, query: &Scoped<Q, K>) -> Result<()> {
        query.ensure_tenant(&self.tenant)
    }

    /// Loads all rows of a scoped query.
    pub async fn fetch_all<'q, U, Q>(&mut self, query: Scoped<Q, K>) -> Result<Vec<U>>
    where
        Q: LoadQuery<'q, AsyncPgConnection, U> + 'q,
        U: Send,
    {
        self.check(&query)?;
        Ok(query.query.load(self.conn()?).await?)
    }

    /// Loads the first row of a scoped query, if any.
    pub async fn fetch_optional<'q, U, Q>(&mut self, query: Scoped<Q, K>) -> Result<Option<U>>
    where
        Q: LoadQuery<'q, AsyncPgConnection, U> + 'q,
        U: Send,
    {
        self.check(&query)?;
        Ok(query.query.get_result(self.conn()?).await.optional()?)
    }

    /// Runs a scoped `UPDATE` or `DELETE`; returns the number of rows changed.
    /// An `UPDATE` that sets the tenant column is refused, as in
    /// [`TenantTx::execute_scoped`](crate::TenantTx::execute_scoped).
    pub async fn execute_scoped<'q, Q>(&mut self, statement: Scoped<Q, K>) -> Result<usize>
    where
        Q: ExecuteDsl<AsyncPgConnection> + QueryFragment<Pg> + 'q,
    {
        self.check(&statement)?;
        refuse_tenant_column_writes(&statement.query, statement.tenant_column)?;
        Ok(statement.query.execute(self.conn()?).await?)
    }

    /// Runs an insert into a tenant table; the tenant column gets its
    /// default, this transaction's tenant, and a statement that names it is
    /// refused (see [`TenantTx::insert`](crate::TenantTx::insert)).
    pub async fn insert<'q, T, U, Op, Ret>(
        &mut self,
        statement: InsertStatement<T, U, Op, Ret>,
    ) -> Result<usize>
    where
        T: TenantTable<Id = K>,
        InsertStatement<T, U, Op, Ret>: ExecuteDsl<AsyncPgConnection> + QueryFragment<Pg> + 'q,
    {
        refuse_tenant_column_writes(&statement, tenant_column::<T>())?;
        Ok(statement.execute(self.conn()?).await?)
    }

    /// Runs an insert with a `RETURNING` clause and returns the inserted
    /// row(s); the tenant column is refused as in [`insert`](Self::insert).
    pub async fn insert_returning<'q, R, T, U, Op, Ret>(
        &mut self,
        statement: InsertStatement<T, U, Op, Ret>,
    ) -> Result<Vec<R>>
    where
        T: TenantTable<Id = K>,
        InsertStatement<T, U, Op, Ret>:
            LoadQuery<'q, AsyncPgConnection, R> + QueryFragment<Pg> + 'q,
        R: Send,
    {
        refuse_tenant_column_writes(&statement, tenant_column::<T>())?;
        Ok(statement.load(self.conn()?).await?)
    }

    /// The connection, for raw SQL; row-level security still applies.
    ///
    /// Once this was called, ending the transaction also resets the
    /// session, and closes the connection instead of returning it when that
    /// fails, as [`TenantTx::dangerous_raw_connection`](crate::TenantTx::dangerous_raw_connection)
    /// describes.
    pub fn dangerous_raw_connection(&mut self) -> Result<&mut AsyncPgConnection> {
        self.raw = true;
        self.conn()
    }

    /// Commits the transaction and returns the connection to the pool.
    pub async fn commit(self) -> Result<()> {
        self.end(TxEnd::Commit).await
    }

    /// Rolls the transaction back and returns the connection to the pool.
    pub async fn rollback(self) -> Result<()> {
        self.end(TxEnd::Rollback).await
    }

    /// Ends the transaction, after raw SQL in one message with the session
    /// reset (see [`tenancy_core::reset`]; diesel then ends the empty
    /// transaction that message leaves open). On any failure the connection
    /// stays out of the pool: `open` stays true, so dropping closes it.
    async fn end(mut self, end: TxEnd) -> Result<()> {
        if self.raw {
            self.conn()?
                .batch_execute(end_and_reset_sql(end, Leftovers::Fail))
                .await?;
        }
        match end {
            TxEnd::Commit => AnsiTransactionManager::commit_transaction(self.conn()?).await?,
            TxEnd::Rollback => AnsiTransactionManager::rollback_transaction(self.conn()?).await?,
        }
        self.open = false;
        Ok(())
    }
}

impl<K> Drop for AsyncTenantTx<K> {
    fn drop(&mut self) {
        if self.open
            && let Some(conn) = self.conn.take()
        {
            // Out of the pool and dropped: the connection closes.
            drop(Object::take(conn));
        }
    }
}

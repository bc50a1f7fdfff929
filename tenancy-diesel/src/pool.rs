//! [`TenantPool`]: tenant-bound transactions on an r2d2 pool of `PgConnection`s.

use diesel::PgConnection;
use diesel::connection::{AnsiTransactionManager, SimpleConnection, TransactionManager};
use diesel::r2d2::{ConnectionManager, Pool};
use tenancy_core::reset::{Leftovers, TxEnd, end_and_reset_sql};
use tenancy_core::rls::TenantBinding;
use tenancy_core::uuid::Uuid;
use tenancy_core::{Tenant, TenantContextOf};

use crate::tx::best_effort;
use crate::{DieselTenantId, Error, TenantTx};

/// An r2d2 pool of diesel `PgConnection`s that hands out connections only
/// inside a tenant transaction.
///
/// There is no `get()`: the only way in is [`transaction`](Self::transaction)
/// (or [`transaction_current`](Self::transaction_current), which takes the
/// tenant from [`TenantContext`](tenancy_core::TenantContextOf) and fails closed without one). Each
/// transaction sends `BEGIN; SET LOCAL app.tenant_id = '<uuid>'` in one
/// message.
///
/// ```
/// use diesel::prelude::*;
/// use diesel::r2d2::{ConnectionManager, Pool};
/// use tenancy_diesel::{ForTenantDsl, TenantPool};
///
/// diesel::table! { orders (tenant_id, id) { id -> Uuid, tenant_id -> Uuid, item -> Text } }
/// tenancy_diesel::tenant_table!(orders.tenant_id);
///
/// # fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
/// # let database_url = db.app_url().to_owned(); // the application role's URL
/// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
/// let pg = Pool::builder().build(ConnectionManager::<PgConnection>::new(database_url))?;
/// let pool = TenantPool::new(pg);
/// let items: Vec<String> = pool.transaction(&acme, |tx| {
///     // tenant_id is left out: its default is the transaction's tenant.
///     tx.insert(diesel::insert_into(orders::table).values((orders::id.eq(uuid::Uuid::new_v4()), orders::item.eq("Burger"))))?;
///     tx.fetch_all(orders::table.for_tenant(tx.tenant()).select(orders::item))
/// })?;
/// assert_eq!(items, ["Burger"]);
/// # Ok(()) }
/// ```
pub struct TenantPool<K = Uuid> {
    pool: Pool<ConnectionManager<PgConnection>>,
    binding: TenantBinding,
    id_type: std::marker::PhantomData<fn() -> K>,
}

impl<K> Clone for TenantPool<K> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            binding: self.binding.clone(),
            id_type: std::marker::PhantomData,
        }
    }
}

impl<K> std::fmt::Debug for TenantPool<K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TenantPool")
            .field("setting", self.binding.setting())
            .finish_non_exhaustive()
    }
}

impl TenantPool<Uuid> {
    /// Wraps `pool`, for tenants with UUID ids; tenants are bound through
    /// `app.tenant_id`. For other id types: `TenantPool::<i64>::from(pool)`.
    pub fn new(pool: Pool<ConnectionManager<PgConnection>>) -> Self {
        Self::from(pool)
    }
}

impl<K> From<Pool<ConnectionManager<PgConnection>>> for TenantPool<K> {
    /// Wraps `pool`, for tenants with ids of type `K`:
    /// `TenantPool::<i64>::from(pool)`. See [`TenantPool::new`].
    fn from(pool: Pool<ConnectionManager<PgConnection>>) -> Self {
        Self {
            pool,
            binding: TenantBinding::default(),
            id_type: std::marker::PhantomData,
        }
    }
}

impl<K: DieselTenantId> TenantPool<K> {
    /// Binds tenants another way (setting name, transaction options).
    #[must_use]
    pub fn with_binding(mut self, binding: TenantBinding) -> Self {
        self.binding = binding;
        self
    }

    /// Runs `f` in a transaction bound to `tenant`: committed if `f`
    /// returns `Ok`, rolled back if it returns `Err`.
    ///
    /// The connection never goes back to the pool with a tenant or an open
    /// transaction: if the `BEGIN` message fails halfway it is rolled back
    /// before the error is returned, and if `f` panics the pool discards the
    /// connection (r2d2 treats connections dropped while panicking as broken).
    pub fn transaction<R, E, F>(&self, tenant: &Tenant<K>, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut TenantTx<'_, K>) -> Result<R, E>,
        E: From<Error>,
    {
        let sql = self.binding.begin_sql(tenant).map_err(Error::from)?;
        let mut conn = self.pool.get().map_err(Error::from)?;
        if let Err(err) = AnsiTransactionManager::begin_transaction_sql(&mut *conn, &sql) {
            // BEGIN may have run and a SET LOCAL after it failed: the server
            // is in an aborted transaction diesel does not know about.
            best_effort(&mut conn, "ROLLBACK");
            return Err(Error::from(err).into());
        }
        let mut tx = TenantTx {
            conn: &mut conn,
            tenant,
            raw: false,
        };
        let result = f(&mut tx);
        let raw = tx.raw;
        // After raw SQL, the reset goes in one message with the end of the
        // transaction (see `tenancy_core::reset`); diesel then ends the empty
        // transaction that message leaves open.
        let reset = if raw {
            let end = if result.is_ok() {
                TxEnd::Commit
            } else {
                TxEnd::Rollback
            };
            conn.batch_execute(end_and_reset_sql(end, Leftovers::Fail))
        } else {
            Ok(())
        };
        let ended = match (&result, reset) {
            (Ok(_), Ok(())) => {
                AnsiTransactionManager::commit_transaction(&mut *conn).inspect_err(|_| {
                    let _ = AnsiTransactionManager::rollback_transaction(&mut *conn);
                })
            }
            (_, reset) => {
                if AnsiTransactionManager::rollback_transaction(&mut *conn).is_err() {
                    best_effort(&mut conn, "ROLLBACK");
                }
                reset
            }
        };
        if raw && ended.is_err() {
            discard(&mut conn);
        }
        match (result, ended) {
            (Ok(value), Ok(())) => Ok(value),
            (Ok(_), Err(err)) => Err(Error::from(err).into()),
            (Err(err), _) => Err(err),
        }
    }

    /// [`transaction`](Self::transaction) for the current tenant of
    /// [`TenantContext`](tenancy_core::TenantContextOf); fails with `TenantError::Missing` without one.
    pub fn transaction_current<R, E, F>(&self, f: F) -> Result<R, E>
    where
        F: FnOnce(&mut TenantTx<'_, K>) -> Result<R, E>,
        E: From<Error>,
    {
        let tenant = TenantContextOf::<K>::current().map_err(Error::from)?;
        self.transaction(&tenant, f)
    }
}

/// Makes r2d2 discard `conn` when it comes back: it does so with a
/// connection that diesel believes is inside a transaction.
fn discard(conn: &mut PgConnection) {
    let _ = AnsiTransactionManager::begin_transaction(conn);
}

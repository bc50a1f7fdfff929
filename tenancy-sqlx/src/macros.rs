//! Scoped SQL macros: [`query!`](crate::query!),
//! [`query_as!`](crate::query_as!) and [`query_scalar!`](crate::query_scalar!)
//! check at compile time that every tenant table in the SQL is filtered to
//! the tenant, then hand the SQL to sqlx's macros, which check columns and
//! parameter types. The result is a [`ScopedQuery`], which runs only on a
//! [`TenantTx`] and binds that transaction's tenant to `$tenant`.
//!
//! ```ignore
//! // Needs DATABASE_URL (or sqlx's offline data) at compile time, as
//! // sqlx::query! does.
//! let lines = tenancy_sqlx::query!(
//!     "SELECT o.id, l.qty
//!        FROM orders o
//!        JOIN order_lines l ON l.tenant_id = o.tenant_id AND l.order_id = o.id
//!       WHERE o.tenant_id = $tenant AND o.id = $1",
//!     order_id,
//! )
//! .fetch_all(&mut tx)
//! .await?;
//! ```
//!
//! Forget the join condition and the build fails:
//!
//! ```text
//! error: `order_lines` (alias `l`) is not scoped to the tenant: add
//!        `l.tenant_id = $tenant` or join it on `l.tenant_id = o.tenant_id`, ...
//! ```
//!
//! # The manifest
//!
//! Which tables hold tenant rows is read from `tenancy.manifest` next to
//! the crate's `Cargo.toml` (or the file the `TENANCY_MANIFEST` variable
//! names, relative to it). Write it from the database with
//! `tenancy manifest --database-url URL`, and keep it true with
//! [`manifest::verify`](crate::manifest::verify) in a test or
//! `tenancy manifest --check` in CI. A table missing from it is a compile
//! error, so a new table cannot slip past the check.
//!
//! # What the check accepts
//!
//! A tenant table is scoped when its tenant column is equated with
//! `$tenant`, or with the tenant column of a scoped table, in a top-level
//! `AND` of its `WHERE`, of an inner join's `ON`, or (on the nullable side
//! of an outer join) of its own `ON`; `USING (tenant_id, ...)` counts.
//! This covers joins of every kind, subqueries (`IN`, `EXISTS`, scalar,
//! `LATERAL`), CTEs (recursive too), `UNION`/`INTERSECT`/`EXCEPT`,
//! `UPDATE ... FROM`, `DELETE ... USING`, `INSERT ... VALUES/SELECT`,
//! `ON CONFLICT`, `RETURNING`, window functions and `MERGE`. Writes may set
//! the tenant column only to `$tenant` (or leave it to its default), and
//! `ON CONFLICT ... DO UPDATE` must name the tenant column. Anything the
//! checker cannot prove is a compile error. Tables from the manifest are
//! schema-qualified in the SQL sent, so a temporary table cannot shadow
//! them.
//!
//! A transaction that ran a macro query resets the session when it ends,
//! as after raw SQL ([`TenantTx`] explains): the check proves which rows a
//! query reads, not what a function it calls (`set_config(.., false)`,
//! `pg_advisory_lock`) leaves on the connection.
//!
//! The macros are for tenants sharing tables (row-level security); in
//! schema-per-tenant mode, use sqlx's macros on the [`TenantTx`], whose
//! `search_path` does the scoping.

use std::future::Future;

use sqlx::postgres::{PgArguments, PgQueryResult, PgRow};
use sqlx::query::{Map, Query, QueryScalar};
use sqlx::{Error, PgConnection, Postgres};

use crate::executor::RawConnection;
use crate::{PgTenantId, Result, TenantTx};

/// A query from [`query!`](crate::query!), [`query_as!`](crate::query_as!)
/// or [`query_scalar!`](crate::query_scalar!), checked to be scoped to
/// `$tenant`. It runs only on a [`TenantTx`], whose tenant it binds: not on
/// a pool, not on a plain connection.
///
/// `K` is the type of the tenant ids of the tables it names (from the
/// manifest): it runs only on a `TenantTx<K>`.
#[must_use = "a query does nothing until it runs on a TenantTx"]
pub struct ScopedQuery<F, K> {
    build: F,
    id_type: std::marker::PhantomData<fn(K)>,
}

impl<F, K> std::fmt::Debug for ScopedQuery<F, K> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ScopedQuery").finish_non_exhaustive()
    }
}

impl<F, Q, K> ScopedQuery<F, K>
where
    F: FnOnce(K) -> Q,
    Q: Statement,
    K: PgTenantId,
{
    /// Used by the macros' expansion; not public API.
    #[doc(hidden)]
    pub fn __new(build: F) -> Self {
        Self {
            build,
            id_type: std::marker::PhantomData,
        }
    }

    /// The query with `tx`'s tenant bound, and the connection to run it on.
    ///
    /// The checker proves which rows a query reads, not what it leaves on
    /// the session: a function such as `set_config(.., false)` or
    /// `pg_advisory_lock` outlives the transaction. So the connection is
    /// taken as raw SQL takes it, and the transaction resets the session
    /// when it ends ([`TenantTx`] explains).
    fn bind(self, tx: &mut TenantTx<K>) -> (Q, &mut PgConnection) {
        let query = (self.build)(tx.tenant().id_ref().value().clone());
        (query, tx.dangerous_raw_connection())
    }

    /// Runs it on `tx` and returns every row.
    pub async fn fetch_all(self, tx: &mut TenantTx<K>) -> Result<Vec<Q::Output>> {
        let (query, conn) = self.bind(tx);
        Ok(query.fetch_all(conn).await?)
    }

    /// Runs it on `tx` and returns the first row; an error if there is none.
    pub async fn fetch_one(self, tx: &mut TenantTx<K>) -> Result<Q::Output> {
        let (query, conn) = self.bind(tx);
        Ok(query.fetch_one(conn).await?)
    }

    /// Runs it on `tx` and returns the first row, if any.
    pub async fn fetch_optional(self, tx: &mut TenantTx<K>) -> Result<Option<Q::Output>> {
        let (query, conn) = self.bind(tx);
        Ok(query.fetch_optional(conn).await?)
    }

    /// Runs it on `tx` and returns how many rows it changed.
    pub async fn execute(self, tx: &mut TenantTx<K>) -> Result<PgQueryResult> {
        let (query, conn) = self.bind(tx);
        Ok(query.execute(conn).await?)
    }
}

mod sealed {
    pub trait Sealed {}
}

/// What sqlx's macros return: [`Query`], [`Map`] and [`QueryScalar`].
/// Sealed: only the macros build a [`ScopedQuery`].
pub trait Statement: sealed::Sealed + Send + Sized {
    /// One row of the result.
    type Output: Send + Unpin;

    /// Every row.
    fn fetch_all(
        self,
        conn: &mut PgConnection,
    ) -> impl Future<Output = std::result::Result<Vec<Self::Output>, Error>> + Send;

    /// The first row; an error if there is none.
    fn fetch_one(
        self,
        conn: &mut PgConnection,
    ) -> impl Future<Output = std::result::Result<Self::Output, Error>> + Send;

    /// The first row, if any.
    fn fetch_optional(
        self,
        conn: &mut PgConnection,
    ) -> impl Future<Output = std::result::Result<Option<Self::Output>, Error>> + Send;

    /// Runs it; the rows changed.
    fn execute(
        self,
        conn: &mut PgConnection,
    ) -> impl Future<Output = std::result::Result<PgQueryResult, Error>> + Send;
}

/// Implements [`Statement`] for one sqlx query type by calling its own
/// methods.
macro_rules! statement {
    ([$($generics:tt)*] $ty:ty => $output:ty $(where $($bounds:tt)*)?) => {
        impl<$($generics)*> sealed::Sealed for $ty $(where $($bounds)*)? {}

        impl<$($generics)*> Statement for $ty $(where $($bounds)*)? {
            type Output = $output;

            async fn fetch_all(self, conn: &mut PgConnection) -> std::result::Result<Vec<$output>, Error> {
                <$ty>::fetch_all(self, conn).await
            }

            async fn fetch_one(self, conn: &mut PgConnection) -> std::result::Result<$output, Error> {
                <$ty>::fetch_one(self, conn).await
            }

            async fn fetch_optional(self, conn: &mut PgConnection) -> std::result::Result<Option<$output>, Error> {
                <$ty>::fetch_optional(self, conn).await
            }

            async fn execute(self, conn: &mut PgConnection) -> std::result::Result<PgQueryResult, Error> {
                sqlx::Executor::execute(conn, self).await
            }
        }
    };
}

statement!([] Query<'static, Postgres, PgArguments> => PgRow);
statement!([M, O] Map<'static, Postgres, M, PgArguments> => O
    where M: FnMut(PgRow) -> std::result::Result<O, Error> + Send, O: Send + Unpin);
statement!([O] QueryScalar<'static, Postgres, O, PgArguments> => O
    where O: Send + Unpin, (O,): for<'r> sqlx::FromRow<'r, PgRow>);

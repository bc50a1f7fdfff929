//! Connecting diesel-async through pgbouncer in transaction mode (feature
//! `async`).
//!
//! pgbouncer before 1.21 (and later versions without
//! `max_prepared_statements`) hands each *transaction* to whichever server
//! connection is free. tokio-postgres, under diesel-async, prepares every
//! statement under a name in one round trip and runs it in the next:
//!
//! - a statement cached in one transaction is gone in the next one, which
//!   may run on another server connection: `prepared statement "s12" does
//!   not exist`;
//! - outside a transaction even a single query can lose its statement
//!   between the two round trips.
//!
//! Inside an [`AsyncTenantTx`](crate::AsyncTenantTx) every query runs in one
//! transaction, so the second point never bites tenant queries. The first
//! one does, unless the statement cache is off. Two things run outside a
//! transaction however: the pool's health check, and diesel-async's
//! connection setup (`SET TIME ZONE`, `SET CLIENT_ENCODING`, prepared like
//! any other statement). [`manager_config`] turns the cache off, checks
//! health in the simple query protocol, and runs the setup inside a
//! transaction, where pgbouncer keeps one server connection.
//!
//! The other fix is on the pgbouncer side: version 1.21 or later with
//! `max_prepared_statements` set tracks named statements per client. Queries
//! you run yourself on a pooled connection outside a tenant transaction
//! should go into a transaction of their own (`conn.transaction(...)`) for
//! the same reason.
//!
//! The tenant binding itself is transaction-local (`set_config(..., true)`
//! in the `BEGIN` message), so it never outlives the transaction on a
//! server connection that pgbouncer hands to another client.

use std::future::{Future as _, poll_fn};
use std::pin::{Pin, pin};
use std::task::Poll;

use diesel::ConnectionError;
use diesel::connection::CacheSize;
use diesel_async::pooled_connection::{ManagerConfig, RecyclingMethod};
use diesel_async::{AsyncConnection as _, AsyncPgConnection, SimpleAsyncConnection as _};

/// A [`ManagerConfig`] for `AsyncPgConnection`s that go through pgbouncer in
/// transaction mode: no prepared-statement cache, a health check in the
/// simple query protocol (no named statement to lose), and diesel-async's
/// connection setup inside a transaction.
///
/// ```
/// use diesel_async::AsyncPgConnection;
/// use diesel_async::pooled_connection::{AsyncDieselConnectionManager, deadpool::Pool};
/// use tenancy_diesel::AsyncTenantPool;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let server = tenancy_testing::PgServer::shared()?;
/// # let db = server.create_database()?;
/// # db.owner_sql(&tenancy_testing::fixtures::orders_table_sql())?;
/// # let bouncer = tenancy_testing::PgBouncer::start(server, 2)?; // transaction mode
/// # let pgbouncer_url = bouncer.url(tenancy_testing::APP_ROLE, db.name());
/// # let acme = tenancy_core::Tenant::builder(tenancy_core::TenantId::new_v4(), "acme".parse()?).build();
/// let manager = AsyncDieselConnectionManager::<AsyncPgConnection>::new_with_config(
///     pgbouncer_url,
///     tenancy_diesel::pgbouncer::manager_config(),
/// );
/// let pool = AsyncTenantPool::new(Pool::builder(manager).build()?);
/// let tx = pool.begin(&acme).await?;
/// tx.commit().await?;
/// # Ok(()) }
/// ```
#[must_use]
pub fn manager_config() -> ManagerConfig<AsyncPgConnection> {
    let mut config = ManagerConfig::default();
    config.custom_setup = Box::new(|url| Box::pin(establish_in_transaction(url)));
    config.recycling_method = RecyclingMethod::CustomFunction(Box::new(|conn| {
        Box::pin(async move { conn.batch_execute("SELECT 1").await })
    }));
    config
}

/// Connects, opens a transaction (so pgbouncer pins one server connection),
/// lets diesel-async run its setup, and commits.
async fn establish_in_transaction(url: &str) -> Result<AsyncPgConnection, ConnectionError> {
    let bad = |err: tokio_postgres::Error| ConnectionError::BadConnection(err.to_string());
    let (client, mut connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .map_err(bad)?;
    {
        // Nobody drives the connection yet: poll it by hand until BEGIN is done.
        let mut begin = pin!(client.batch_execute("BEGIN"));
        poll_fn(|cx| {
            if let Poll::Ready(done) = begin.as_mut().poll(cx) {
                return Poll::Ready(done.map_err(bad));
            }
            match Pin::new(&mut connection).poll(cx) {
                Poll::Ready(Err(err)) => Poll::Ready(Err(bad(err))),
                Poll::Ready(Ok(())) => Poll::Ready(Err(ConnectionError::BadConnection(
                    "the connection closed before BEGIN completed".to_owned(),
                ))),
                Poll::Pending => Poll::Pending,
            }
        })
        .await?;
    }
    let mut conn = AsyncPgConnection::try_from_client_and_connection(client, connection).await?;
    conn.batch_execute("COMMIT")
        .await
        .map_err(ConnectionError::CouldntSetupConfiguration)?;
    conn.set_prepared_statement_cache_size(CacheSize::Disabled);
    Ok(conn)
}

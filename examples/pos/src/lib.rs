//! A multi-tenant point-of-sale API: restaurants and shops sharing one
//! backend and one PostgreSQL, isolated by `tenancy`.
//!
//! - [`db`]: embedded or `DATABASE_URL` PostgreSQL, migrations with the
//!   generated RLS policies, seed tenants, the unprivileged runtime role.
//! - [`api`]: axum routes behind `TenantLayer` (subdomain of `localhost` or
//!   `X-Tenant`), demo tokens cross-checked against the tenant, per-tenant
//!   rate limits, and handlers that only reach the database through
//!   tenant-bound transactions.
//! - [`story`]: the scripted demo that `cargo run -p pos` plays.
#![deny(missing_docs)]

pub mod api;
pub mod auth;
pub mod db;
pub mod error;
pub mod nightly;
pub mod story;

use std::net::SocketAddr;

use tenancy_core::{Placement, SchemaName};
use tenancy_sqlx::{PgTenantStore, TenantPool};
use tokio::task::JoinHandle;

pub use db::{Database, Mode};
pub use error::SetupError;

/// A running server.
#[derive(Debug)]
pub struct Server {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its state (pools, token keys).
    pub state: api::AppState,
    /// The admin portal's token (`POS_ADMIN_TOKEN`, or a random one),
    /// for `/admin`.
    pub admin_token: String,
    task: JoinHandle<()>,
    shutdown: tokio::sync::oneshot::Sender<()>,
}

impl Server {
    /// Serves the API for `db` on `listen` (port 0 picks a free port).
    pub async fn start(db: &Database, listen: SocketAddr) -> Result<Self, SetupError> {
        let state = api::AppState {
            pool: TenantPool::new(db.runtime.clone()),
            directory: PgTenantStore::new(db.runtime.clone()),
            tenants: std::sync::Arc::new(tenancy_core::CachedTenantStore::new(PgTenantStore::new(
                db.runtime.clone(),
            ))),
            keys: auth::TokenKeys::from_env_or_random(),
        };
        let listener = tokio::net::TcpListener::bind(listen)
            .await
            .map_err(|source| SetupError::Listen {
                addr: listen,
                source,
            })?;
        let addr = listener.local_addr().map_err(|source| SetupError::Listen {
            addr: listen,
            source,
        })?;
        let (shutdown, stop) = tokio::sync::oneshot::channel::<()>();
        let admin_token = std::env::var("POS_ADMIN_TOKEN")
            .ok()
            .filter(|t| t.chars().count() >= 24)
            .unwrap_or_else(|| {
                format!(
                    "{}{}",
                    uuid::Uuid::new_v4().simple(),
                    uuid::Uuid::new_v4().simple()
                )
            });
        let staff_directory = PgTenantStore::new(db.staff.clone());
        let portal = tenancy_admin::AdminPortal::new(
            staff_directory.clone(),
            tenancy_sqlx::lifecycle::TenantLifecycle::new(staff_directory, state.pool.clone()),
            tenancy_admin::AdminAuth::token(&admin_token, "pos-staff")
                .map_err(|e| SetupError::Admin(e.to_string()))?,
        )
        .on_change({
            let tenants = state.tenants.clone();
            move |_| tenants.clear()
        });
        // In schema mode a new tenant needs its schema, which only the
        // administrator can make, and the server holds no administrator
        // connection: the portal refuses to create tenants (501, with the
        // reason) rather than add one whose every request would fail.
        let portal = match db.mode {
            Mode::SharedSchema => portal,
            Mode::SchemaPerTenant => portal.place_new_tenants(|id| {
                Placement::shared().with_schema(SchemaName::for_tenant(id))
            }),
        };
        let app = api::router(state.clone()).nest("/admin", portal.router());
        let task = tokio::spawn(async move {
            let served = axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = stop.await;
                })
                .await;
            if let Err(err) = served {
                tracing::error!(error = %err, "server stopped");
            }
        });
        Ok(Self {
            addr,
            state,
            admin_token,
            task,
            shutdown,
        })
    }

    /// Stops accepting requests and waits for the ones in flight.
    pub async fn stop(self) {
        let _ = self.shutdown.send(());
        let _ = self.task.await;
    }
}

//! Errors of the POS app: setup failures and API errors.

use axum::Json;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

/// Why the app could not start.
#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    /// The embedded PostgreSQL could not be started.
    #[error("could not start the embedded PostgreSQL: {0}")]
    Embedded(#[from] tenancy_testing::HarnessError),
    /// A database operation failed during setup.
    #[error("database setup failed: {0}")]
    Database(#[from] sqlx::Error),
    /// A tenancy operation failed during setup.
    #[error("tenant setup failed: {0}")]
    Tenancy(#[from] tenancy_sqlx::Error),
    /// The runtime role would bypass row-level security.
    #[error(
        "refusing to start: the runtime role {role:?} {why}; it must be a plain login role \
         (NOSUPERUSER NOBYPASSRLS, owning no tables), or row-level security does not protect tenants"
    )]
    UnsafeRuntimeRole {
        /// The role.
        role: String,
        /// What is wrong with it.
        why: &'static str,
    },
    /// The admin portal could not be set up.
    #[error("admin portal setup failed: {0}")]
    Admin(String),
    /// The job queue's tables could not be set up.
    #[error("job queue setup failed: {0}")]
    Jobs(#[from] apalis_postgres::Error),
    /// The orders table is not under forced row-level security.
    #[error("refusing to start: table orders does not have row-level security enabled and forced")]
    RlsNotForced,
    /// Listening failed.
    #[error("could not listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// Why.
        source: std::io::Error,
    },
}

/// An API error, rendered as `{"error": "..."}` with its status.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
}

impl ApiError {
    /// An error with `status` and `message`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }

    /// 404 for an order that does not exist **for this tenant**: another
    /// tenant's order is indistinguishable from a missing one.
    pub fn order_not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "Order not found")
    }
}

impl From<tenancy_sqlx::Error> for ApiError {
    fn from(err: tenancy_sqlx::Error) -> Self {
        tracing::error!(error = %err, "database error");
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "The database is unavailable, try again later",
        )
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        (
            self.status,
            Json(serde_json::json!({ "error": self.message })),
        )
            .into_response()
    }
}

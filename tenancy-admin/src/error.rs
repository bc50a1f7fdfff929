//! [`PortalError`]: why the portal refused, as a status and a reason.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};

use crate::html;

/// Why the portal refused a request, or could not be set up. Every refusal
/// is a 4xx with the reason, or a 503 when the database could not answer;
/// never a panic.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortalError {
    /// Setting the portal up needs this.
    #[error("the admin portal needs {0}")]
    Config(&'static str),
    /// No valid credentials (401).
    #[error("sign in to the admin portal")]
    Unauthorized,
    /// A form without the CSRF value of its page (403).
    #[error("the form is stale or comes from another site: reload the page and try again")]
    Csrf,
    /// Bad input, with the reason (400).
    #[error("{0}")]
    BadRequest(String),
    /// No such tenant or domain (404).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the current state (409).
    #[error("{0}")]
    Conflict(String),
    /// The database could not answer (503).
    #[error("the tenant database is unavailable: {0}")]
    Unavailable(String),
    /// The portal is not set up for what was asked, such as creating a
    /// tenant in its own schema with a lifecycle that cannot provision one
    /// (501); nothing was changed.
    #[error("the admin portal cannot do that here: {0}")]
    Unsupported(&'static str),
}

impl PortalError {
    /// The HTTP status.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Csrf => StatusCode::FORBIDDEN,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotFound(_) => StatusCode::NOT_FOUND,
            Self::Conflict(_) => StatusCode::CONFLICT,
            Self::Config(_) | Self::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unsupported(_) => StatusCode::NOT_IMPLEMENTED,
        }
    }

    /// A stable code, such as `tenant_not_found`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Config(_) => "portal_misconfigured",
            Self::Unauthorized => "unauthorized",
            Self::Csrf => "csrf",
            Self::BadRequest(_) => "bad_request",
            Self::NotFound(_) => "not_found",
            Self::Conflict(_) => "conflict",
            Self::Unavailable(_) => "unavailable",
            Self::Unsupported(_) => "unsupported",
        }
    }

    /// As JSON (the API).
    pub(crate) fn json(&self) -> Response {
        let body = serde_json::json!({ "error": self.to_string(), "code": self.code() });
        (self.status(), axum::Json(body)).into_response()
    }

    /// As a page.
    pub(crate) fn page(&self, base: &str) -> Response {
        let body = format!("<p class=\"error\">{}</p>", html::escape(&self.to_string()));
        (self.status(), html::page(base, "Refused", &body)).into_response()
    }
}

impl From<tenancy_sqlx::Error> for PortalError {
    fn from(error: tenancy_sqlx::Error) -> Self {
        tracing::warn!(%error, "admin portal: database error");
        match error {
            tenancy_sqlx::Error::Database(sqlx::Error::Database(db))
                if db.code().as_deref() == Some("23505") =>
            {
                Self::Conflict("a tenant with that slug or id already exists".to_owned())
            }
            tenancy_sqlx::Error::Database(sqlx::Error::Database(db))
                if db.code().as_deref() == Some("42501") =>
            {
                Self::Conflict(format!(
                    "the database refused the portal's role: {} (grant it the privilege, or use a role that has it)",
                    db.message()
                ))
            }
            tenancy_sqlx::Error::Unsupported(what) => Self::Unsupported(what),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

impl From<tenancy_domains::DomainError> for PortalError {
    fn from(error: tenancy_domains::DomainError) -> Self {
        use tenancy_domains::DomainError;
        match error {
            DomainError::Taken(_) => Self::Conflict(error.to_string()),
            DomainError::NotFound(_) => Self::NotFound(error.to_string()),
            other => Self::Unavailable(other.to_string()),
        }
    }
}

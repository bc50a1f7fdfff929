//! [`TenantRejection`]: why a request got no tenant, and its HTTP answer.

use std::sync::Arc;

use http::{HeaderValue, Response, StatusCode, header};

/// Why the tenant layer refused a request. Each variant has a fixed status
/// code; the default rendering is a small JSON body
/// `{"error": "<reason>", "code": "<code>"}`.
///
/// | variant | status |
/// |---|---|
/// | [`Missing`](Self::Missing), [`Malformed`](Self::Malformed), [`Conflict`](Self::Conflict) | 400 |
/// | [`TokenRequired`](Self::TokenRequired), [`ImpersonationExpired`](Self::ImpersonationExpired) | 401 |
/// | [`Mismatch`](Self::Mismatch), [`Suspended`](Self::Suspended) | 403 |
/// | [`NotFound`](Self::NotFound) | 404 |
/// | [`RateLimited`](Self::RateLimited) | 429, with `Retry-After` |
/// | [`QuotaExceeded`](Self::QuotaExceeded) | 429 with `Retry-After` for a quota that resets, 403 otherwise |
/// | [`LayerMissing`](Self::LayerMissing) | 500 |
/// | [`StoreUnavailable`](Self::StoreUnavailable) | 503 |
/// | [`Moving`](Self::Moving) | 503, with `Retry-After` |
///
/// The tenant layer, the per-tenant limit layers and the `CurrentTenant`
/// extractor all answer with a `TenantRejection`, rendered by a
/// [`RenderRejection`] ([`JsonRenderer`] unless replaced) and logged at
/// `TRACE` under the target `tenancy_tower::rejection`, as axum logs its
/// rejections.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum TenantRejection {
    /// No strategy found a tenant in the request.
    Missing,
    /// A tenant identifier was present but malformed (bad host, duplicate or
    /// non-UTF-8 header, invalid slug, ...).
    Malformed {
        /// Which strategy saw it (`"subdomain"`, `"header"`, ...).
        strategy: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// Two strategies named different tenants (for example host and header).
    Conflict,
    /// A token is required and the request has none (or an invalid one).
    TokenRequired,
    /// The token's tenant is not the tenant the request addresses.
    Mismatch,
    /// An impersonation token that expired, or that lives longer than
    /// [`MAX_IMPERSONATION`](crate::MAX_IMPERSONATION).
    ImpersonationExpired,
    /// The tenant exists but is suspended.
    Suspended,
    /// No tenant by that name.
    NotFound,
    /// The tenant store could not answer.
    StoreUnavailable,
    /// The tenant's data is being moved and its writes are frozen
    /// ([`TenantStatus::Moving`](tenancy_core::TenantStatus::Moving)): a
    /// request that may write is refused before it runs, so nothing it
    /// would write is lost. Try again after
    /// [`MOVE_RETRY_AFTER_SECS`](crate::MOVE_RETRY_AFTER_SECS).
    Moving,
    /// The tenant is over its request rate or its concurrent requests
    /// ([`limit`](crate::limit)).
    RateLimited {
        /// When to try again, in whole seconds (at least 1): the
        /// `Retry-After` header.
        retry_after_secs: u64,
    },
    /// No tenant was resolved before a handler or a limit layer that needs
    /// one: the route has no [`TenantLayer`](crate::TenantLayer) in front of
    /// it. A server misconfiguration.
    LayerMissing,
    /// The tenant used up a quota of its plan (for example
    /// `tenancy-metering`'s `QuotaLayer`).
    QuotaExceeded {
        /// The quota, as a unit (`"requests per day"`, `"bytes of
        /// storage"`).
        quota: &'static str,
        /// The plan's limit.
        limit: u64,
        /// For a quota that resets (per day), the whole seconds until it
        /// does: the `Retry-After` header. `None` for a quota that does not
        /// reset by itself (storage).
        retry_after_secs: Option<u64>,
    },
}

impl TenantRejection {
    /// The HTTP status for this rejection.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Missing | Self::Malformed { .. } | Self::Conflict => StatusCode::BAD_REQUEST,
            Self::TokenRequired | Self::ImpersonationExpired => StatusCode::UNAUTHORIZED,
            Self::Mismatch
            | Self::Suspended
            | Self::QuotaExceeded {
                retry_after_secs: None,
                ..
            } => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::RateLimited { .. }
            | Self::QuotaExceeded {
                retry_after_secs: Some(_),
                ..
            } => StatusCode::TOO_MANY_REQUESTS,
            Self::LayerMissing => StatusCode::INTERNAL_SERVER_ERROR,
            Self::StoreUnavailable | Self::Moving => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// A stable machine-readable code, such as `tenant_not_found`.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Missing => "tenant_missing",
            Self::Malformed { .. } => "tenant_malformed",
            Self::Conflict => "tenant_conflict",
            Self::TokenRequired => "token_required",
            Self::Mismatch => "tenant_mismatch",
            Self::ImpersonationExpired => "impersonation_expired",
            Self::Suspended => "tenant_suspended",
            Self::NotFound => "tenant_not_found",
            Self::StoreUnavailable => "tenant_store_unavailable",
            Self::Moving => "tenant_moving",
            Self::RateLimited { .. } => "tenant_rate_limited",
            Self::LayerMissing => "tenant_layer_missing",
            Self::QuotaExceeded { .. } => "tenant_quota_exceeded",
        }
    }

    /// A human-readable reason.
    pub fn reason(&self) -> String {
        match self {
            Self::Missing => "No tenant in request".to_owned(),
            Self::Malformed { strategy, reason } => {
                format!("Malformed tenant ({strategy}): {reason}")
            }
            Self::Conflict => "The request names two different tenants".to_owned(),
            Self::TokenRequired => "Missing or invalid token".to_owned(),
            Self::Mismatch => "The token belongs to another tenant".to_owned(),
            Self::ImpersonationExpired => format!(
                "The impersonation token has expired, or lives longer than {} minutes",
                crate::MAX_IMPERSONATION.as_secs() / 60
            ),
            Self::Suspended => "Tenant suspended".to_owned(),
            Self::NotFound => "Tenant not found".to_owned(),
            Self::StoreUnavailable => "Tenant directory unavailable, try again later".to_owned(),
            Self::Moving => format!(
                "The tenant's data is being moved: writes are paused, try again in {} s",
                crate::MOVE_RETRY_AFTER_SECS
            ),
            Self::RateLimited { .. } => "Too many requests for this tenant".to_owned(),
            Self::LayerMissing => {
                "No tenant was resolved for this request: add TenantLayer in front of this route (and of the per-tenant limits)".to_owned()
            }
            Self::QuotaExceeded {
                quota,
                limit,
                retry_after_secs: Some(secs),
            } => format!(
                "The tenant's plan allows {limit} {quota}, and they are used up; the quota resets in {secs} s"
            ),
            Self::QuotaExceeded {
                quota,
                limit,
                retry_after_secs: None,
            } => format!(
                "The tenant's plan allows {limit} {quota}, and they are used up; this is refused until the tenant uses less or its plan allows more"
            ),
        }
    }

    /// When to try again, in whole seconds (at least 1), for a rejection
    /// that passes: [`RateLimited`](Self::RateLimited), a
    /// [`QuotaExceeded`](Self::QuotaExceeded) that resets, and
    /// [`Moving`](Self::Moving).
    pub fn retry_after_secs(&self) -> Option<u64> {
        match self {
            Self::RateLimited { retry_after_secs }
            | Self::QuotaExceeded {
                retry_after_secs: Some(retry_after_secs),
                ..
            } => Some((*retry_after_secs).max(1)),
            Self::Moving => Some(crate::MOVE_RETRY_AFTER_SECS),
            _ => None,
        }
    }
}

impl std::fmt::Display for TenantRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.reason())
    }
}

impl std::error::Error for TenantRejection {}

/// Turns a [`TenantRejection`] into the response the client gets.
///
/// Implemented by [`JsonRenderer`] (the default) and by closures
/// `Fn(&TenantRejection) -> Response<String>`.
pub trait RenderRejection: Send + Sync + 'static {
    /// The response for `rejection`.
    fn render(&self, rejection: &TenantRejection) -> Response<String>;
}

impl<F> RenderRejection for F
where
    F: Fn(&TenantRejection) -> Response<String> + Send + Sync + 'static,
{
    fn render(&self, rejection: &TenantRejection) -> Response<String> {
        self(rejection)
    }
}

/// The default rendering: `{"error": "<reason>", "code": "<code>"}` with
/// the rejection's status and `Content-Type: application/json`.
#[derive(Debug, Clone, Copy, Default)]
pub struct JsonRenderer;

impl RenderRejection for JsonRenderer {
    fn render(&self, rejection: &TenantRejection) -> Response<String> {
        json_response(
            rejection.status(),
            &serde_json::json!({ "error": rejection.reason(), "code": rejection.code() }),
        )
    }
}

/// A JSON response with `status`.
pub(crate) fn json_response(status: StatusCode, body: &serde_json::Value) -> Response<String> {
    let mut response = Response::new(body.to_string());
    *response.status_mut() = status;
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    response
}

/// The `Retry-After` of [`TenantRejection::Moving`], in seconds: a tenant
/// move's write freeze lasts about as long as the copy of its rows.
pub const MOVE_RETRY_AFTER_SECS: u64 = 5;

pub(crate) type SharedRenderer = Arc<dyn RenderRejection>;

/// Renders `rejection` with `renderer` as every layer of the SDK does:
/// adds `Retry-After` ([`TenantRejection::retry_after_secs`]) to an answer
/// that lacks it, and logs it at `TRACE` (target
/// `tenancy_tower::rejection`). For layers outside this crate that answer
/// with a [`TenantRejection`].
pub fn render_with(
    renderer: &dyn RenderRejection,
    rejection: &TenantRejection,
) -> Response<String> {
    let mut response = renderer.render(rejection);
    if let Some(retry_after_secs) = rejection.retry_after_secs() {
        response
            .headers_mut()
            .entry(header::RETRY_AFTER)
            .or_insert_with(|| HeaderValue::from(retry_after_secs));
    }
    tracing::trace!(
        target: "tenancy_tower::rejection",
        status = response.status().as_u16(),
        code = rejection.code(),
        reason = %rejection,
        "request rejected"
    );
    response
}

/// A shared renderer that prints as `Renderer(..)` (for the layers' `Debug`).
#[derive(Clone)]
pub(crate) struct Renderer(pub(crate) SharedRenderer);

impl Renderer {
    pub(crate) fn render(&self, rejection: &TenantRejection) -> Response<String> {
        render_with(&*self.0, rejection)
    }
}

impl Default for Renderer {
    fn default() -> Self {
        Self(Arc::new(JsonRenderer))
    }
}

impl std::fmt::Debug for Renderer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Renderer(..)")
    }
}

#[cfg(feature = "axum")]
impl axum_core::response::IntoResponse for TenantRejection {
    fn into_response(self) -> axum_core::response::Response {
        JsonRenderer.render(&self).map(axum_core::body::Body::from)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `Retry-After` goes on the answers that pass with time, with their
    /// own number of seconds (at least 1), and on no other.
    #[test]
    fn retry_after_only_for_what_passes_with_time() {
        let cases = [
            (
                TenantRejection::RateLimited {
                    retry_after_secs: 7,
                },
                Some(7),
                429,
            ),
            (
                TenantRejection::RateLimited {
                    retry_after_secs: 0,
                },
                Some(1),
                429,
            ),
            (
                TenantRejection::QuotaExceeded {
                    quota: "requests per day",
                    limit: 10,
                    retry_after_secs: Some(3_600),
                },
                Some(3_600),
                429,
            ),
            (
                TenantRejection::QuotaExceeded {
                    quota: "bytes of storage",
                    limit: 10,
                    retry_after_secs: None,
                },
                None,
                403,
            ),
            (TenantRejection::NotFound, None, 404),
            (TenantRejection::Suspended, None, 403),
            (
                TenantRejection::Moving,
                Some(crate::MOVE_RETRY_AFTER_SECS),
                503,
            ),
        ];
        for (rejection, retry, status) in cases {
            assert_eq!(rejection.retry_after_secs(), retry, "{rejection:?}");
            let response = render_with(&JsonRenderer, &rejection);
            assert_eq!(response.status().as_u16(), status, "{rejection:?}");
            let header = response
                .headers()
                .get(header::RETRY_AFTER)
                .map(|v| v.to_str().unwrap_or_default().to_owned());
            assert_eq!(header, retry.map(|s| s.to_string()), "{rejection:?}");
        }
        let body = render_with(
            &JsonRenderer,
            &TenantRejection::QuotaExceeded {
                quota: "requests per day",
                limit: 10,
                retry_after_secs: Some(60),
            },
        )
        .into_body();
        assert!(body.contains("tenant_quota_exceeded"), "{body}");
        assert!(body.contains("allows 10 requests per day"), "{body}");
        assert!(body.contains("resets in 60 s"), "{body}");
    }

    /// A rejection prints as its reason, which names what is wrong.
    #[test]
    fn rejections_display_their_reason() {
        for rejection in [
            TenantRejection::Missing,
            TenantRejection::NotFound,
            TenantRejection::Malformed {
                strategy: "header",
                reason: "the x-tenant header is too long".into(),
            },
        ] {
            assert_eq!(rejection.to_string(), rejection.reason());
        }
        assert_eq!(
            TenantRejection::Malformed {
                strategy: "header",
                reason: "bad".into()
            }
            .to_string(),
            "Malformed tenant (header): bad"
        );
    }

    #[test]
    fn statuses_and_json_body() {
        let cases = [
            (TenantRejection::Missing, 400),
            (TenantRejection::Conflict, 400),
            (TenantRejection::TokenRequired, 401),
            (TenantRejection::ImpersonationExpired, 401),
            (TenantRejection::Mismatch, 403),
            (TenantRejection::Suspended, 403),
            (TenantRejection::NotFound, 404),
            (TenantRejection::StoreUnavailable, 503),
        ];
        for (rejection, status) in cases {
            let response = JsonRenderer.render(&rejection);
            assert_eq!(response.status().as_u16(), status);
            let body: serde_json::Value = serde_json::from_str(response.body()).unwrap();
            assert_eq!(body["code"], rejection.code());
            assert_eq!(body["error"], rejection.reason());
        }
        assert_eq!(TenantRejection::NotFound.reason(), "Tenant not found");
    }
}

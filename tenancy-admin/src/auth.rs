//! [`AdminAuth`]: who may use the portal, and the CSRF guard of its forms.

use std::fmt::{self, Write as _};
use std::sync::Arc;

use axum::http::request::Parts;
use axum::http::{HeaderMap, header};

/// How the portal knows who is asking. Every route needs it; the portal
/// answers 401 otherwise.
///
/// - [`token`](Self::token): a shared secret, sent as `Authorization:
///   Bearer <token>` (the JSON API); the login form (the pages) sets an
///   `HttpOnly`, `SameSite=Strict`, `Secure` cookie that holds a value
///   derived from the token (HMAC-SHA256), never the token itself, and
///   that works only as a cookie. Serve the portal over HTTPS (see
///   [`AdminPortal::secure_cookies`](crate::AdminPortal::secure_cookies)).
/// - [`callback`](Self::callback): your own authentication (a session, an
///   SSO header set by a proxy): return the actor's name, or `None`.
#[derive(Clone)]
pub struct AdminAuth {
    kind: Kind,
}

/// Your authentication: the actor of a request, or `None`.
type Who = Arc<dyn Fn(&Parts) -> Option<String> + Send + Sync>;

#[derive(Clone)]
enum Kind {
    Token {
        secret: Arc<str>,
        /// The login cookie's value: derived from the secret, so that a
        /// leaked cookie does not give the token away, and the same in
        /// every process that has the token.
        session: Arc<str>,
        actor: Arc<str>,
    },
    Callback(Who),
}

impl fmt::Debug for AdminAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Token { actor, .. } => f
                .debug_struct("AdminAuth::Token")
                .field("actor", actor)
                .finish_non_exhaustive(),
            Kind::Callback(_) => f.write_str("AdminAuth::Callback"),
        }
    }
}

/// The shortest admin token accepted.
const MIN_TOKEN: usize = 24;

/// The login cookie's name.
pub(crate) const AUTH_COOKIE: &str = "tenancy_admin";
/// The CSRF cookie's name (double submit: the form carries the same value).
pub(crate) const CSRF_COOKIE: &str = "tenancy_admin_csrf";

impl AdminAuth {
    /// A shared secret of at least 24 characters; requests that carry it
    /// act as `actor`.
    ///
    /// ```
    /// use tenancy_admin::AdminAuth;
    ///
    /// assert!(AdminAuth::token("a-long-random-secret-from-your-vault", "ops").is_ok());
    /// assert!(AdminAuth::token("short", "ops").is_err());
    /// ```
    pub fn token(secret: &str, actor: &str) -> Result<Self, crate::PortalError> {
        if secret.chars().count() < MIN_TOKEN {
            return Err(crate::PortalError::Config(
                "an admin token of at least 24 characters",
            ));
        }
        if actor.trim().is_empty() {
            return Err(crate::PortalError::Config("an actor name for the token"));
        }
        Ok(Self {
            kind: Kind::Token {
                secret: secret.into(),
                session: session_value(secret).into(),
                actor: actor.trim().into(),
            },
        })
    }

    /// Your own authentication: `who` returns the actor of a request, or
    /// `None` to refuse it.
    pub fn callback(who: impl Fn(&Parts) -> Option<String> + Send + Sync + 'static) -> Self {
        Self {
            kind: Kind::Callback(Arc::new(who)),
        }
    }

    /// The actor of the request, if it is allowed in.
    pub(crate) fn actor(&self, parts: &Parts) -> Option<String> {
        match &self.kind {
            Kind::Callback(who) => who(parts).filter(|a| !a.trim().is_empty()),
            Kind::Token {
                secret,
                session,
                actor,
            } => {
                let bearer = parts
                    .headers
                    .get(header::AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "));
                let allowed = match bearer {
                    Some(token) => same(token.as_bytes(), secret.as_bytes()),
                    None => cookie(&parts.headers, AUTH_COOKIE)
                        .is_some_and(|value| same(value.as_bytes(), session.as_bytes())),
                };
                allowed.then(|| actor.to_string())
            }
        }
    }

    /// The login cookie's value when `presented` is the login token (the
    /// login form), `None` otherwise.
    pub(crate) fn login(&self, presented: &str) -> Option<&str> {
        match &self.kind {
            Kind::Token {
                secret, session, ..
            } => same(presented.as_bytes(), secret.as_bytes()).then_some(&**session),
            Kind::Callback(_) => None,
        }
    }

    /// Whether requests authenticate with the bearer header (no cookie):
    /// forms then need no CSRF guard, as browsers never add that header by
    /// themselves.
    pub(crate) fn by_bearer(parts: &Parts) -> bool {
        parts.headers.contains_key(header::AUTHORIZATION)
    }
}

/// The login cookie's value for `secret`: HMAC-SHA256 of a fixed label,
/// keyed with the secret, in hex.
fn session_value(secret: &str) -> String {
    use hmac::{KeyInit, Mac};
    // HMAC takes keys of any length.
    let Ok(mut mac) = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()) else {
        unreachable!("HMAC accepts keys of any length")
    };
    mac.update(b"tenancy-admin login session v1");
    let mut hex = String::with_capacity(64);
    for byte in mac.finalize().into_bytes() {
        // Writing into a String cannot fail.
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// The value of cookie `name` in the request.
pub(crate) fn cookie<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find_map(|(k, v)| (k == name).then_some(v))
}

/// Compares two secrets in time that does not depend on where they differ.
pub(crate) fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0_u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// A fresh CSRF value: 64 hex digits from the system's generator.
pub(crate) fn new_csrf() -> String {
    format!(
        "{}{}",
        uuid::Uuid::new_v4().simple(),
        uuid::Uuid::new_v4().simple()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secrets_compare_whole() {
        assert!(same(b"abc", b"abc"));
        assert!(!same(b"abc", b"abd"));
        assert!(!same(b"abc", b"ab"));
        assert!(!same(b"", b"a"));
        // Two differences that an XOR of the differences would cancel.
        assert!(!same(b"ab", b"ba"));
    }

    /// A request with only `Cookie: <cookie>`.
    fn with_cookie(cookie: &str) -> Parts {
        let (parts, ()) = axum::http::Request::get("/admin/tenants")
            .header(header::COOKIE, cookie)
            .body(())
            .unwrap_or_else(|_| unreachable!())
            .into_parts();
        parts
    }

    #[test]
    fn the_session_value_is_the_tokens_own_hmac() {
        let secret = "a-long-random-secret-from-your-vault";
        let auth = AdminAuth::token(secret, "ops").unwrap_or_else(|_| unreachable!());
        // HMAC-SHA256(secret, "tenancy-admin login session v1"), as Python's
        // hmac module computes it.
        let expected = "d21f252e491db5eeb7d72c3dfc7ff21e82e094743bc0702fc7c0e888fb6eb2db";
        assert_eq!(auth.login(secret), Some(expected));
        assert_eq!(auth.login("not-the-secret"), None);
        let cookie = format!("{AUTH_COOKIE}={expected}");
        assert_eq!(auth.actor(&with_cookie(&cookie)).as_deref(), Some("ops"));

        // Another token's session, or an empty one, is no session here.
        let other = AdminAuth::token("another-long-random-secret-here", "ops")
            .unwrap_or_else(|_| unreachable!());
        assert_ne!(
            other.login("another-long-random-secret-here"),
            Some(expected)
        );
        assert_eq!(other.actor(&with_cookie(&cookie)), None);
        assert_eq!(auth.actor(&with_cookie(&format!("{AUTH_COOKIE}="))), None);
    }

    #[test]
    fn cookies_are_read_by_exact_name() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            "a=1; tenancy_admin_csrf=x; tenancy_admin=y"
                .parse()
                .unwrap_or_else(|_| unreachable!()),
        );
        assert_eq!(cookie(&headers, AUTH_COOKIE), Some("y"));
        assert_eq!(cookie(&headers, CSRF_COOKIE), Some("x"));
        assert_eq!(cookie(&headers, "tenancy"), None);
    }
}

//! Demo tokens: HS256-signed JWTs that carry the tenant id.
//!
//! Only a demo issuer: a real service takes tokens from its identity
//! provider. What matters for tenancy is [`DemoClaims`]' [`TenantClaim`]
//! impl, which lets the tenant layer check that the token's tenant is the
//! tenant the request addresses.

use std::time::{SystemTime, UNIX_EPOCH};

use axum::extract::{Request, State};
use axum::http::StatusCode;
use axum::http::header::AUTHORIZATION;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use tenancy_core::TenantId;
use tenancy_tower::{TenantClaim, TenantKey};

use crate::error::ApiError;

const ISSUER: &str = "tenancy-pos-demo";
const HEADER: &str = r#"{"alg":"HS256","typ":"JWT"}"#;

/// What a demo token says.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct DemoClaims {
    /// The user.
    pub sub: String,
    /// The tenant the user belongs to.
    pub tenant_id: TenantId,
    /// The issuer.
    pub iss: String,
    /// Expiry (seconds since the epoch).
    pub exp: u64,
}

impl TenantClaim for DemoClaims {
    fn tenant_key(&self) -> Option<TenantKey> {
        Some(TenantKey::Id(self.tenant_id))
    }
}

/// Signs and verifies demo tokens.
#[derive(Clone)]
pub struct TokenKeys {
    secret: Vec<u8>,
}

impl std::fmt::Debug for TokenKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenKeys(..)")
    }
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

impl TokenKeys {
    /// Keys from `POS_TOKEN_SECRET`, or a random secret for this process.
    pub fn from_env_or_random() -> Self {
        let secret = std::env::var("POS_TOKEN_SECRET").map_or_else(
            |_| {
                let mut secret = uuid::Uuid::new_v4().as_bytes().to_vec();
                secret.extend_from_slice(uuid::Uuid::new_v4().as_bytes());
                secret
            },
            String::into_bytes,
        );
        Self { secret }
    }

    fn mac(&self) -> Hmac<Sha256> {
        // HMAC takes keys of any length.
        match Hmac::<Sha256>::new_from_slice(&self.secret) {
            Ok(mac) => mac,
            Err(_) => unreachable!("HMAC accepts keys of any length"),
        }
    }

    /// A token for `user` of `tenant`, valid for an hour.
    pub fn issue(&self, user: &str, tenant: TenantId) -> String {
        let claims = DemoClaims {
            sub: user.to_owned(),
            tenant_id: tenant,
            iss: ISSUER.to_owned(),
            exp: now() + 3600,
        };
        let payload = serde_json::to_vec(&claims).unwrap_or_default();
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(HEADER),
            URL_SAFE_NO_PAD.encode(payload)
        );
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(mac.finalize().into_bytes());
        format!("{signing_input}.{signature}")
    }

    /// Verifies a token: signature, issuer, expiry.
    pub fn verify(&self, token: &str) -> Result<DemoClaims, &'static str> {
        let (signing_input, signature) = token.rsplit_once('.').ok_or("malformed token")?;
        let (header, payload) = signing_input.split_once('.').ok_or("malformed token")?;
        let signature = URL_SAFE_NO_PAD
            .decode(signature)
            .map_err(|_| "malformed token")?;
        let mut mac = self.mac();
        mac.update(signing_input.as_bytes());
        mac.verify_slice(&signature)
            .map_err(|_| "invalid token signature")?;
        if URL_SAFE_NO_PAD.decode(header).ok().as_deref() != Some(HEADER.as_bytes()) {
            return Err("unsupported token header");
        }
        let payload = URL_SAFE_NO_PAD
            .decode(payload)
            .map_err(|_| "malformed token")?;
        let claims: DemoClaims =
            serde_json::from_slice(&payload).map_err(|_| "malformed token claims")?;
        if claims.iss != ISSUER {
            return Err("token from another issuer");
        }
        if claims.exp <= now() {
            return Err("token expired");
        }
        Ok(claims)
    }
}

/// Middleware: a valid `Authorization: Bearer` token puts [`DemoClaims`]
/// into the request; an invalid one is a 401 right away; no token passes
/// through (the tenant layer answers 401 where a token is required).
pub async fn authenticate(
    State(keys): State<TokenKeys>,
    mut request: Request,
    next: Next,
) -> Response {
    let Some(value) = request.headers().get(AUTHORIZATION) else {
        return next.run(request).await;
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or("expected `Authorization: Bearer <token>`");
    match token.and_then(|t| keys.verify(t.trim())) {
        Ok(claims) => {
            request.extensions_mut().insert(claims);
            next.run(request).await
        }
        Err(reason) => ApiError::new(
            StatusCode::UNAUTHORIZED,
            format!("Missing or invalid token: {reason}"),
        )
        .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_tampering() {
        let keys = TokenKeys::from_env_or_random();
        let tenant = TenantId::new_v4();
        let token = keys.issue("alice", tenant);
        assert_eq!(keys.verify(&token).map(|c| c.tenant_id), Ok(tenant));
        let other = TokenKeys::from_env_or_random();
        assert!(
            other.verify(&token).is_err(),
            "another secret must not verify"
        );
        let mut forged = token.clone();
        forged.replace_range(forged.len() - 3.., "AAA");
        assert!(keys.verify(&forged).is_err());
        for junk in ["", ".", "a.b", "a.b.c", "....", "ey.ey.ey"] {
            assert!(keys.verify(junk).is_err(), "{junk}");
        }
    }
}

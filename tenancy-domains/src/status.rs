//! Where a tenant domain is in its life: [`DomainStatus`], [`TlsStatus`],
//! and the record of one domain, [`TenantDomain`].

use std::fmt;
use std::str::FromStr;
use std::time::SystemTime;

use tenancy_core::TenantId;
use uuid::Uuid;

use crate::DomainName;

/// A domain's verification state. Only [`Verified`](Self::Verified)
/// domains resolve to their tenant.
///
/// ```text
/// pending ──proof found──▶ verified ──proof gone at a re-check──▶ failed
///    │                        ▲                                     │
///    └─no proof in time─▶ expired          proof back ◀─────────────┘
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DomainStatus {
    /// Added, waiting for its proof of ownership.
    Pending,
    /// Proven: resolves to its tenant.
    Verified,
    /// Was verified, but a re-check no longer found the proof.
    Failed,
    /// Stayed pending past the verification window.
    Expired,
}

impl DomainStatus {
    /// The status as stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Pending => "pending",
            Self::Verified => "verified",
            Self::Failed => "failed",
            Self::Expired => "expired",
        }
    }
}

/// The state of the domain's TLS certificate, for the operator's
/// certificate automation: the SDK stores it and shows it, and never
/// changes it itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum TlsStatus {
    /// No certificate requested yet.
    #[default]
    None,
    /// Requested, not issued yet.
    Pending,
    /// Issued and served.
    Issued,
    /// The last request failed.
    Failed,
}

impl TlsStatus {
    /// The status as stored.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Pending => "pending",
            Self::Issued => "issued",
            Self::Failed => "failed",
        }
    }
}

/// A stored status that is not one of the known ones.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown status {0:?}")]
pub struct UnknownStatus(String);

macro_rules! text_enum {
    ($ty:ident: $($variant:ident),+) => {
        impl FromStr for $ty {
            type Err = UnknownStatus;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                $(if s == Self::$variant.as_str() {
                    return Ok(Self::$variant);
                })+
                Err(UnknownStatus(s.chars().take(40).collect()))
            }
        }

        impl fmt::Display for $ty {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

text_enum!(DomainStatus: Pending, Verified, Failed, Expired);
text_enum!(TlsStatus: None, Pending, Issued, Failed);

/// One domain of a tenant, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TenantDomain<K = Uuid> {
    /// The domain.
    pub domain: DomainName,
    /// Its tenant.
    pub tenant: TenantId<K>,
    /// Where it is in its life.
    pub status: DomainStatus,
    /// The secret that proves ownership: the TXT record's value
    /// (`tenancy-verification=<token>`) or the body served at
    /// `/.well-known/tenancy-challenge/<token>`.
    pub token: String,
    /// The tenant's primary domain (at most one per tenant).
    pub primary: bool,
    /// The certificate's state, set by the operator.
    pub tls: TlsStatus,
    /// When it was added.
    pub created_at: SystemTime,
    /// When its proof was last found.
    pub verified_at: Option<SystemTime>,
    /// When it was last checked.
    pub checked_at: Option<SystemTime>,
    /// Why the last check failed, if it did.
    pub failure: Option<String>,
}

impl<K> TenantDomain<K> {
    /// The TXT record's value that proves ownership.
    pub fn txt_value(&self) -> String {
        format!("tenancy-verification={}", self.token)
    }

    /// The path of the HTTP proof, served with the token as its body.
    pub fn http_path(&self) -> String {
        format!("/.well-known/tenancy-challenge/{}", self.token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_round_trip_and_unknown_ones_are_errors() {
        for s in [
            DomainStatus::Pending,
            DomainStatus::Verified,
            DomainStatus::Failed,
            DomainStatus::Expired,
        ] {
            assert_eq!(s.as_str().parse::<DomainStatus>(), Ok(s));
        }
        for s in [
            TlsStatus::None,
            TlsStatus::Pending,
            TlsStatus::Issued,
            TlsStatus::Failed,
        ] {
            assert_eq!(s.to_string().parse::<TlsStatus>(), Ok(s));
        }
        assert!("Verified".parse::<DomainStatus>().is_err());
        assert!("".parse::<TlsStatus>().is_err());
    }
}

//! Custom domains for tenancy tenants, with proof of ownership.
//!
//! A tenant that brings its own domain (`orders.acme-corp.com`) must prove
//! it controls it before a single request on it reaches the tenant: else
//! anyone could claim `orders.acme-corp.com` for their own tenant, or
//! point a domain they do not own at the service.
//!
//! - [`DomainName`]: the domain normalised once (IDNA, case, trailing dot)
//!   and checked, so one domain has one spelling.
//! - [`DomainStore`]: the domains in PostgreSQL with their life: pending →
//!   verified (or expired when never proven; failed when a verified
//!   domain's proof disappears at a re-check), a proof token, at most one
//!   primary domain per tenant, a TLS status for the operator's certificate
//!   automation.
//! - [`DomainVerifier`]: checks the proof: a TXT record
//!   `_tenancy-challenge.<domain>` holding `tenancy-verification=<token>`
//!   (through [hickory](https://docs.rs/hickory-resolver)), or the token
//!   served at `http://<domain>/.well-known/tenancy-challenge/<token>`.
//! - [`VerifiedDomains`]: the tenant store for `tenancy-tower`'s
//!   `CustomDomain` strategy in which only verified domains resolve;
//!   anything else is a 404, never another tenant.
//!
//! The `tenancy domains` command adds, verifies, lists and removes domains.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod check;
mod name;
mod resolve;
mod resolver;
mod status;
mod store;

pub use check::{CheckError, Checked, DomainVerifier, Proof};
pub use name::{DomainName, InvalidDomain};
pub use resolve::VerifiedDomains;
pub use resolver::DomainResolver;
pub use status::{DomainStatus, TenantDomain, TlsStatus, UnknownStatus};
pub use store::{DomainError, DomainStore};

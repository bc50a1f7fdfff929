//! Sealed tenants: each connects as its own login role, and row-level
//! security keys its rows on that role (`session_user`), so SQL injected
//! into its transactions cannot reach another tenant.
//!
//! | piece | what it does |
//! |---|---|
//! | [`SealedSetup`](tenancy_core::rls::SealedSetup), [`TenantPolicy::sealed_sql`](tenancy_core::rls::TenantPolicy::sealed_sql) | migrations: the group role, the map of roles to tenants, two policies per tenant table |
//! | [`SealedLogins`] | passwords derived from one master secret; SCRAM verifiers; rotation |
//! | [`SealedProvisioner`] | creates, rotates and drops tenants' login roles; pgbouncer auth-file lines |
//! | [`RoutedPoolBuilder::sealed_logins`](crate::routing::RoutedPoolBuilder::sealed_logins) | a small pool per sealed tenant, lazily opened, capped, idle ones closed; other tenants as before |
//!
//! A tenant is sealed when its [`Placement`](tenancy_core::Placement) says
//! so ([`Placement::sealed`](tenancy_core::Placement::sealed)); every pool
//! without its credentials refuses it
//! ([`TenantError::Sealed`](tenancy_core::TenantError::Sealed)), so it
//! never runs on the shared role. `docs/models.md` says when to choose the
//! tier; `docs/isolation.md` lists the attacks it stops that the default
//! mode cannot.

mod logins;
mod provisioner;

pub use logins::SealedLogins;
pub use provisioner::SealedProvisioner;
pub use tenancy_core::key_ring::KeyError;

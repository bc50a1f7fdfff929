//! Several servers or databases: route each tenant to its target.
//!
//! - [`TenantRouter`] picks a tenant's target: [`PlacementRouter`] (the
//!   target in the tenant's [`Placement`](tenancy_core::Placement), from
//!   the tenant store), [`StaticRouter`] (a shard map) or [`HashRouter`]
//!   (a consistent hash of the tenant id over N shards).
//! - [`RoutedPool`] keeps one pool per target, opened on first use, caps
//!   open pools and connections per tenant, and hands out the same
//!   [`TenantTx`](crate::TenantTx) as [`TenantPool`](crate::TenantPool):
//!   row-level security and schemas work on every target as on one.
//!
//! Moving a tenant: copy its rows to the new target, then flip its entry
//! (placement in the tenant store, or [`StaticRouter::assign`]); the next
//! transaction goes to the new target.

mod routed_pool;
mod router;

pub use routed_pool::{RoutedPool, RoutedPoolBuilder};
pub use router::{HashRouter, PlacementRouter, StaticRouter, TenantRouter};

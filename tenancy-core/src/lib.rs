//! Tenant identity and the task-local tenant context: the foundation of the
//! `tenancy` SDK.
//!
//! A multi-tenant backend serves many customers from one code base. The
//! classic bug is one query, cache key or file path built without the tenant,
//! and one customer sees another's data. This crate gives every piece of code
//! a way to ask "which tenant am I working for?" that **fails closed**: there
//! is no default tenant, and every helper that needs one returns
//! [`TenantError::Missing`] instead of guessing.
//!
//! - [`TenantId`] (a UUID by default; `bigint`, `integer` or `text` ids
//!   through [`TenantIdType`]) and [`TenantSlug`] (a DNS-label name) are
//!   parsed, never assumed; [`Tenant`] is a resolved tenant with status and
//!   settings.
//! - [`TenantContext`] carries the current tenant in a tokio task-local. The
//!   `tenancy-tower` layer sets it around each request.
//! - [`WithTenant`], [`spawn`] and [`spawn_blocking`] carry it into tasks that
//!   would not inherit it.
//! - [`cache_key`] and [`storage_path`] build tenant-namespaced keys and paths.
//! - [`TenantJob`] carries the tenant with a background job's payload.
//! - [`TenantStore`] looks tenants up by slug, id or domain.
//! - [`rls`] generates the PostgreSQL row-level security SQL that the
//!   database crates share.
//! - [`trace`] (feature `tracing`) puts the tenant id on spans.
//!
//! ```
//! use tenancy_core::{Tenant, TenantContext, TenantError, TenantId};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), TenantError> {
//! let acme = Tenant::builder(TenantId::new_v4(), "acme".parse()?).name("Acme").build();
//!
//! // Outside a scope, nothing tenant-specific can be built.
//! assert_eq!(tenancy_core::cache_key("menu"), Err(TenantError::Missing));
//!
//! TenantContext::scope(acme.clone(), async {
//!     let key = tenancy_core::cache_key("menu")?;
//!     assert_eq!(key, format!("tenant:{}:menu", acme.id()));
//!     Ok(())
//! })
//! .await
//! # }
//! ```
//!
//! # Features
//!
//! - `tracing` (default): the [`trace`] module.
//! - `sealed-jobs`: [`sealed_job`], job envelopes sealed with an HMAC so a
//!   job cannot be moved to another tenant while it waits in a queue.
//! - `key-ring`: [`key_ring`], named HMAC secrets with rotation (enabled by
//!   `sealed-jobs`, and by `tenancy-sqlx`'s sealed tenants).
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod any_tenant;
mod any_tenant_id;
mod cache;
mod context;
mod error;
mod id;
mod id_type;
mod job;
#[cfg(feature = "key-ring")]
pub mod key_ring;
mod keys;
mod placement;
mod propagate;
pub mod reset;
pub mod rls;
#[cfg(feature = "sealed-jobs")]
pub mod sealed_job;
mod slug;
mod store;
mod tenant;
mod tenant_key;
#[cfg(feature = "tracing")]
pub mod trace;

pub use any_tenant::AnyTenant;
pub use any_tenant_id::AnyTenantId;
pub use cache::CachedTenantStore;
pub use context::{TenantContext, TenantContextOf};
pub use error::TenantError;
pub use id::TenantId;
pub use id_type::{IdSqlType, TenantIdType};
pub use job::TenantJob;
pub use keys::{cache_key, storage_path, tenant_storage_path};
pub use placement::{Placement, SchemaName, TargetName};
pub use propagate::{WithTenant, spawn, spawn_blocking};
pub use slug::TenantSlug;
pub use store::{InMemoryTenantStore, Lookup, StoreError, TenantStore, TenantStoreExt};
pub use tenant::{Tenant, TenantBuilder, TenantLimits, TenantSettings, TenantStatus};
pub use tenant_key::TenantKey;

/// Re-export of the `uuid` crate, so users name the same `Uuid` type.
pub use uuid;

/// The tenant id type a table declaration names, `Uuid` when it names
/// none: shared by the `tenant_table!` macros of the database crates.
#[doc(hidden)]
#[macro_export]
macro_rules! __id_type_or_uuid {
    () => {
        $crate::uuid::Uuid
    };
    ($id:ty) => {
        $id
    };
}

//! tenancy for actix-web: the tenant of every request resolved and verified
//! before any handler runs.
//!
//! The resolution is `tenancy-tower`'s, framework-neutral
//! ([`TenantLayer::resolve`]): the same strategies (subdomain, custom
//! domain, header, path, token claim), the same cross-checks, the same
//! store and the same rejections (400/401/403/404/503, rendered by the
//! layer's renderer). One [`TenantLayer`] configures an axum and an actix
//! service alike.
//!
//! - [`TenantMiddleware`] wraps an actix `App` or scope: a request whose
//!   tenant resolves runs inside [`TenantContextOf::scope`] with the tenant
//!   in the request extensions; any other gets the rejection, and the
//!   handler does not run.
//! - [`CurrentTenant`] extracts the tenant in a handler (a 500 when the
//!   middleware is missing: a misconfiguration, never a request without a
//!   tenant).
//!
//! ```
//! use actix_web::{App, HttpResponse, test, web};
//! use tenancy_actix::{CurrentTenant, TenantMiddleware};
//! use tenancy_core::{InMemoryTenantStore, Tenant, TenantId};
//! use tenancy_tower::{TenantLayer, strategy::Header};
//!
//! async fn whoami(CurrentTenant(tenant): CurrentTenant) -> HttpResponse {
//!     HttpResponse::Ok().body(tenant.slug().to_string())
//! }
//!
//! # #[actix_web::main]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let store = InMemoryTenantStore::new();
//! store.insert(Tenant::builder(TenantId::new_v4(), "acme".parse()?).build());
//! let layer = TenantLayer::builder(store).strategy(Header::x_tenant()).build();
//!
//! let app = test::init_service(
//!     App::new()
//!         .wrap(TenantMiddleware::new(layer))
//!         .route("/whoami", web::get().to(whoami)),
//! )
//! .await;
//! let ok = test::call_service(&app, test::TestRequest::get().uri("/whoami").insert_header(("x-tenant", "acme")).to_request()).await;
//! assert_eq!(test::read_body(ok).await, "acme");
//! let unknown = test::call_service(&app, test::TestRequest::get().uri("/whoami").insert_header(("x-tenant", "ghost")).to_request()).await;
//! assert_eq!(unknown.status(), 404);
//! # Ok(()) }
//! ```
//!
//! # Token claims
//!
//! A tenant claim is read from the request extensions, where your
//! authentication middleware (running before this one) put the verified
//! claims: name their type with [`TenantMiddleware::claims`] so they are
//! handed to the resolution.
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod convert;
mod extract;
mod middleware;

pub use extract::{CurrentTenant, MissingTenantMiddleware};
pub use middleware::{TenantMiddleware, TenantMiddlewareService};

#[doc(no_inline)]
pub use tenancy_core::TenantContextOf;
#[doc(no_inline)]
pub use tenancy_tower::TenantLayer;

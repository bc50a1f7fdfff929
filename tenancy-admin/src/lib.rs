//! A mountable admin portal for the staff of a multi-tenant service built on `tenancy`.
//!
//! [`AdminPortal::router`] is an axum [`Router`](axum::Router) to nest
//! under your app (`/admin` by default), with pages and a JSON API:
//!
//! | page | API | what |
//! |---|---|---|
//! | `GET /tenants?q=` | `GET /api/tenants?q=` | search and list tenants (status, plan) |
//! | form on the list | `POST /api/tenants` | create a tenant |
//! | `GET /tenants/{slug}` | `GET /api/tenants/{slug}` | one tenant: status, plan, its domains and their verification state |
//! | buttons | `POST /api/tenants/{slug}/suspend`, `/resume` | suspend, resume |
//! | `GET /tenants/{slug}/export` | | the tenant's rows as JSON lines |
//! | `GET /tenants/{slug}` | `GET /api/tenants/{slug}` | with [`with_trail`](AdminPortal::with_trail): the tenant's activity trail |
//! | `POST /tenants/{slug}/delete` | `POST /api/tenants/{slug}/delete` | a dry run first (rows per table); deleting needs the slug typed as confirmation |
//! | forms | `POST /api/tenants/{slug}/domains`, `/domains/verify` | add a domain, check its proof now |
//!
//! Behind [`AdminAuth`]: a token (bearer header for the API, a login form
//! and an `HttpOnly`, `SameSite=Strict`, `Secure` cookie, kept to the
//! portal's path, for the pages) or your own
//! callback. Forms carry a CSRF value that must match their cookie (double
//! submit). Bad input is a 4xx with the reason, an unavailable database a
//! 503; no page shows another tenant's data than the one it is about.
//!
//! ```no_run
//! # async fn demo(pool: sqlx::PgPool, app_pool: tenancy_sqlx::TenantPool) -> Result<(), Box<dyn std::error::Error>> {
//! use tenancy_admin::{AdminAuth, AdminPortal};
//! use tenancy_sqlx::PgTenantStore;
//! use tenancy_sqlx::lifecycle::TenantLifecycle;
//!
//! let store = PgTenantStore::new(pool.clone());
//! let portal = AdminPortal::new(
//!     store.clone(),
//!     TenantLifecycle::new(store, app_pool),
//!     AdminAuth::token(&std::env::var("ADMIN_TOKEN")?, "ops")?,
//! );
//! let app: axum::Router = axum::Router::new().nest("/admin", portal.router());
//! # Ok(()) }
//! ```
#![deny(missing_docs)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod auth;
mod error;
mod html;
mod routes;

pub use auth::AdminAuth;
pub use error::PortalError;

use std::sync::Arc;

use tenancy_core::{Placement, Tenant, TenantId};
use tenancy_domains::{DomainStore, DomainVerifier};
use tenancy_metering::postgres::UsageStore;
use tenancy_sqlx::lifecycle::TenantLifecycle;
use tenancy_sqlx::trail::ActivityTrail;
use tenancy_sqlx::{PgTenantStore, TenantPool};

/// The admin portal: the tenant directory, the lifecycle that creates,
/// suspends, exports and deletes tenants, optionally their domains, and
/// who may use it.
#[derive(Debug, Clone)]
pub struct AdminPortal {
    inner: Arc<Portal>,
}

#[derive(Debug)]
pub(crate) struct Portal {
    pub(crate) base: String,
    pub(crate) auth: AdminAuth,
    /// Whether the portal's cookies carry `Secure` (sent over HTTPS only).
    pub(crate) secure_cookies: bool,
    pub(crate) store: PgTenantStore,
    pub(crate) lifecycle: TenantLifecycle,
    pub(crate) domains: Option<(DomainStore, DomainVerifier)>,
    pub(crate) trail: Option<(ActivityTrail, TenantPool)>,
    pub(crate) usage: Option<UsageStore>,
    pub(crate) on_change: OnChange,
    pub(crate) place: Place,
}

/// A function the portal was given, or none (the default behaviour):
/// its `Debug` shows only which.
pub(crate) struct Given<F: ?Sized>(Option<Arc<F>>);

impl<F: ?Sized> Clone for Given<F> {
    fn clone(&self) -> Self {
        Self(self.0.clone())
    }
}

impl<F: ?Sized> Default for Given<F> {
    fn default() -> Self {
        Self(None)
    }
}

impl<F: ?Sized> std::fmt::Debug for Given<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.0.is_some() { "given" } else { "default" })
    }
}

/// What runs after the portal changed a tenant.
pub(crate) type OnChange = Given<dyn Fn(&Tenant) + Send + Sync>;

/// Where the portal puts new tenants: shared tables unless told otherwise.
pub(crate) type Place = Given<dyn Fn(&TenantId) -> Placement + Send + Sync>;

impl OnChange {
    pub(crate) fn call(&self, tenant: &Tenant) {
        if let Some(f) = &self.0 {
            f(tenant);
        }
    }
}

impl Place {
    pub(crate) fn of(&self, id: &TenantId) -> Placement {
        self.0
            .as_ref()
            .map_or_else(Placement::shared, |place| place(id))
    }
}

impl Portal {
    /// A `Set-Cookie` value for this portal: `HttpOnly`, `SameSite=Strict`,
    /// the portal's path, and `Secure` unless turned off.
    pub(crate) fn cookie(&self, name: &str, value: &str) -> Option<axum::http::HeaderValue> {
        let path = if self.base.is_empty() {
            "/"
        } else {
            &self.base
        };
        let secure = if self.secure_cookies { "; Secure" } else { "" };
        axum::http::HeaderValue::from_str(&format!(
            "{name}={value}; Path={path}; HttpOnly; SameSite=Strict{secure}"
        ))
        .ok()
    }
}

impl AdminPortal {
    /// A portal over the tenants in `store`, changed through `lifecycle`,
    /// for the users `auth` lets in; mounted at `/admin`.
    pub fn new(store: PgTenantStore, lifecycle: TenantLifecycle, auth: AdminAuth) -> Self {
        Self {
            inner: Arc::new(Portal {
                base: "/admin".to_owned(),
                auth,
                secure_cookies: true,
                store,
                lifecycle,
                domains: None,
                trail: None,
                usage: None,
                on_change: OnChange::default(),
                place: Place::default(),
            }),
        }
    }

    /// Shows and manages tenants' custom domains, checking proofs with
    /// `verifier`.
    #[must_use]
    pub fn with_domains(self, domains: DomainStore, verifier: DomainVerifier) -> Self {
        self.map(|portal| portal.domains = Some((domains, verifier)))
    }

    /// Shows each tenant's activity trail (its latest 50 entries, with
    /// who impersonated whom), read in the tenant's own transaction on
    /// `pool`, so row-level security keeps it to that tenant.
    #[must_use]
    pub fn with_trail(self, trail: ActivityTrail, pool: TenantPool) -> Self {
        self.map(|portal| portal.trail = Some((trail, pool)))
    }

    /// Shows each tenant's usage of the last 7 days (today included) from
    /// `tenancy-metering`'s rollups: requests and rows written in the list,
    /// every metric on the tenant's page. `usage` reads every tenant's rows:
    /// give it a pool of the usage table's owner.
    #[must_use]
    pub fn with_usage(self, usage: UsageStore) -> Self {
        self.map(|portal| portal.usage = Some(usage))
    }

    /// Runs `changed` after the portal created, suspended, resumed or
    /// deleted a tenant: clear the caches in front of the tenant store
    /// there (a `CachedTenantStore` keeps a suspended tenant active until
    /// its entry expires otherwise).
    #[must_use]
    pub fn on_change(self, changed: impl Fn(&Tenant) + Send + Sync + 'static) -> Self {
        let changed: Arc<dyn Fn(&Tenant) + Send + Sync> = Arc::new(changed);
        self.map(|portal| portal.on_change = Given(Some(changed)))
    }

    /// Where tenants created in the portal live (shared tables unless
    /// set): for schema per tenant, each in its own schema. The lifecycle
    /// provisions what the placement names
    /// ([`TenantLifecycle::with_schemas`], `with_sealed`) before the tenant
    /// is added; a lifecycle that cannot is refused with 501 and the
    /// reason, and nothing is created.
    ///
    /// ```no_run
    /// # fn demo(portal: tenancy_admin::AdminPortal) {
    /// use tenancy_core::{Placement, SchemaName};
    ///
    /// let portal = portal.place_new_tenants(|id| Placement::shared().with_schema(SchemaName::for_tenant(id)));
    /// # }
    /// ```
    #[must_use]
    pub fn place_new_tenants(
        self,
        place: impl Fn(&TenantId) -> Placement + Send + Sync + 'static,
    ) -> Self {
        let place: Arc<dyn Fn(&TenantId) -> Placement + Send + Sync> = Arc::new(place);
        self.map(|portal| portal.place = Given(Some(place)))
    }

    /// Where the router is nested (`/admin` by default), for its links.
    #[must_use]
    pub fn mounted_at(self, base: &str) -> Self {
        let base = format!("/{}", base.trim_matches('/'));
        self.map(|portal| portal.base = if base == "/" { String::new() } else { base })
    }

    /// Whether the login and CSRF cookies carry `Secure` (default `true`):
    /// browsers then send them over HTTPS only, so a plain-HTTP request to
    /// the same host (one an attacker on the network provoked) does not
    /// give the login away. Browsers treat `http://localhost` and
    /// `http://127.0.0.1` as secure, so local development works with the
    /// default. Turn it off only for a portal that must be served over
    /// plain HTTP elsewhere, behind a network you trust.
    ///
    /// The cookies' `Path` is where the portal is
    /// [mounted](Self::mounted_at): the rest of your app never sees them.
    #[must_use]
    pub fn secure_cookies(self, secure: bool) -> Self {
        self.map(|portal| portal.secure_cookies = secure)
    }

    fn map(self, f: impl FnOnce(&mut Portal)) -> Self {
        let mut portal = Arc::try_unwrap(self.inner).unwrap_or_else(|shared| Portal {
            base: shared.base.clone(),
            auth: shared.auth.clone(),
            secure_cookies: shared.secure_cookies,
            store: shared.store.clone(),
            lifecycle: shared.lifecycle.clone(),
            domains: shared.domains.clone(),
            trail: shared.trail.clone(),
            usage: shared.usage.clone(),
            on_change: shared.on_change.clone(),
            place: shared.place.clone(),
        });
        f(&mut portal);
        Self {
            inner: Arc::new(portal),
        }
    }

    /// The router: nest it at [`mounted_at`](Self::mounted_at)'s path.
    pub fn router(self) -> axum::Router {
        routes::router(self.inner)
    }
}

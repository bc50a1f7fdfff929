//! The portal's routes: pages and the JSON API over the same operations.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{FromRequestParts, Path, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use serde::Deserialize;
use tenancy_core::{Tenant, TenantId, TenantSettings, TenantSlug, TenantStatus, TenantStoreExt};
use tenancy_domains::{DomainName, TenantDomain};
use tenancy_sqlx::trail::TrailEntry;

use crate::auth::{AUTH_COOKIE, AdminAuth, CSRF_COOKIE, cookie, new_csrf, same};
use crate::html::{escape, form, page};
use crate::{Portal, PortalError};

type Shared = Arc<Portal>;

pub(crate) fn router(portal: Shared) -> Router {
    Router::new()
        .route("/", get(home))
        .route("/login", get(login_page).post(login))
        .route("/tenants", get(list_page).post(create_page))
        .route("/tenants/{slug}", get(detail_page))
        .route("/tenants/{slug}/suspend", post(suspend_page))
        .route("/tenants/{slug}/resume", post(resume_page))
        .route("/tenants/{slug}/delete", post(delete_page))
        .route("/tenants/{slug}/export", get(export))
        .route("/tenants/{slug}/domains", post(add_domain_page))
        .route("/tenants/{slug}/domains/verify", post(verify_domain_page))
        .route("/api/tenants", get(list_api).post(create_api))
        .route("/api/tenants/{slug}", get(detail_api))
        .route("/api/tenants/{slug}/suspend", post(suspend_api))
        .route("/api/tenants/{slug}/resume", post(resume_api))
        .route("/api/tenants/{slug}/delete", post(delete_api))
        .route("/api/tenants/{slug}/domains", post(add_domain_api))
        .route(
            "/api/tenants/{slug}/domains/verify",
            post(verify_domain_api),
        )
        .with_state(portal)
}

/// A signed-in staff member: who, and the page's CSRF value (new when the
/// browser had none: the response sets its cookie).
struct Staff {
    actor: String,
    csrf: String,
    /// The CSRF cookie to set, when the browser had none.
    new_csrf: Option<HeaderValue>,
    bearer: bool,
}

impl FromRequestParts<Shared> for Staff {
    type Rejection = Response;

    async fn from_request_parts(
        parts: &mut Parts,
        portal: &Shared,
    ) -> Result<Self, Self::Rejection> {
        let Some(actor) = portal.auth.actor(parts) else {
            return Err(if parts.uri.path().starts_with("/api/") {
                PortalError::Unauthorized.json()
            } else {
                (StatusCode::UNAUTHORIZED, login_form(&portal.base, None)).into_response()
            });
        };
        let existing = cookie(&parts.headers, CSRF_COOKIE)
            .filter(|c| c.len() == 64)
            .map(str::to_owned);
        let (csrf, new_csrf) = if let Some(csrf) = existing {
            (csrf, None)
        } else {
            let csrf = new_csrf();
            let cookie = portal.cookie(CSRF_COOKIE, &csrf);
            (csrf, cookie)
        };
        Ok(Self {
            actor,
            csrf,
            new_csrf,
            bearer: AdminAuth::by_bearer(parts),
        })
    }
}

impl Staff {
    /// A form's CSRF value must be its page's (its cookie's). Requests
    /// with the bearer header need none.
    fn check(&self, presented: Option<&str>) -> Result<(), PortalError> {
        if self.bearer
            || (self.new_csrf.is_none()
                && presented.is_some_and(|p| same(p.as_bytes(), self.csrf.as_bytes())))
        {
            Ok(())
        } else {
            Err(PortalError::Csrf)
        }
    }

    /// `response` with the CSRF cookie, if the browser had none.
    fn respond(&self, response: impl IntoResponse) -> Response {
        let mut response = response.into_response();
        if let Some(cookie) = &self.new_csrf {
            response
                .headers_mut()
                .append(header::SET_COOKIE, cookie.clone());
        }
        response
    }
}

/// The result of a page handler: the page, or the refusal as a page.
type PageResult = Result<Response, (Shared, PortalError)>;

fn refuse_page(portal: &Shared) -> impl FnOnce(PortalError) -> (Shared, PortalError) + '_ {
    move |error| (portal.clone(), error)
}

/// Renders a page handler's refusal.
fn page_or_refusal(result: PageResult) -> Response {
    result.unwrap_or_else(|(portal, error)| error.page(&portal.base))
}

/// Renders an API handler's result.
fn json_or_refusal(result: Result<Response, PortalError>) -> Response {
    result.unwrap_or_else(|error| error.json())
}

fn login_form(base: &str, error: Option<&str>) -> axum::response::Html<String> {
    let error = error
        .map(|e| format!("<p class=\"error\">{}</p>", escape(e)))
        .unwrap_or_default();
    page(
        base,
        "Sign in",
        &format!(
            "{error}<form method=\"post\" action=\"{}/login\">\
             <input type=\"password\" name=\"token\" placeholder=\"admin token\" autofocus>\
             <button type=\"submit\">Sign in</button></form>",
            escape(base)
        ),
    )
}

async fn home(State(portal): State<Shared>) -> Redirect {
    Redirect::to(&format!("{}/tenants", portal.base))
}

async fn login_page(State(portal): State<Shared>) -> Response {
    login_form(&portal.base, None).into_response()
}

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(portal): State<Shared>, Form(login): Form<LoginForm>) -> Response {
    let Some(session) = portal.auth.login(&login.token) else {
        return (
            StatusCode::UNAUTHORIZED,
            login_form(&portal.base, Some("That token is not the admin token.")),
        )
            .into_response();
    };
    let mut response = Redirect::to(&format!("{}/tenants", portal.base)).into_response();
    let cookies = [
        portal.cookie(AUTH_COOKIE, session),
        portal.cookie(CSRF_COOKIE, &new_csrf()),
    ];
    for cookie in cookies.into_iter().flatten() {
        response.headers_mut().append(header::SET_COOKIE, cookie);
    }
    response
}

// ---- the operations, shared by pages and API ----

async fn tenant(portal: &Portal, slug: &str) -> Result<Tenant, PortalError> {
    let slug: TenantSlug = slug
        .parse()
        .map_err(|e| PortalError::BadRequest(format!("invalid tenant slug {slug:?}: {e}")))?;
    portal
        .store
        .by_slug(&slug)
        .await
        .map_err(|e| PortalError::Unavailable(e.to_string()))?
        .ok_or_else(|| PortalError::NotFound(format!("no tenant {slug}")))
}

async fn domains_of(portal: &Portal, tenant: &Tenant) -> Result<Vec<TenantDomain>, PortalError> {
    match &portal.domains {
        Some((domains, _)) => Ok(domains.list(Some(tenant.id_ref())).await?),
        None => Ok(Vec::new()),
    }
}

/// Every tenant's usage of the last 7 days (today included), by tenant id
/// and metric; empty without usage.
async fn usage_by_tenant(portal: &Portal) -> Result<Usage, PortalError> {
    let Some(usage) = &portal.usage else {
        return Ok(Usage::new());
    };
    let now = std::time::SystemTime::now();
    let day = std::time::Duration::from_hours(24);
    let since = now.checked_sub(day * 7).unwrap_or(std::time::UNIX_EPOCH);
    let lines = usage
        .report(
            tenancy_metering::postgres::Granularity::Day,
            since,
            now + day,
        )
        .await
        .map_err(|e| PortalError::Unavailable(e.to_string()))?;
    let mut by_tenant = Usage::new();
    for line in lines {
        *by_tenant
            .entry(line.tenant)
            .or_default()
            .entry(line.metric)
            .or_default() += line.value;
    }
    Ok(by_tenant)
}

/// Usage by tenant id, then metric.
type Usage = std::collections::BTreeMap<String, std::collections::BTreeMap<String, i64>>;

/// Verified and all domains, by tenant id; empty without domains.
async fn domain_counts(
    portal: &Portal,
) -> Result<std::collections::HashMap<String, (usize, usize)>, PortalError> {
    let mut counts = std::collections::HashMap::new();
    if let Some((domains, _)) = &portal.domains {
        for domain in domains.list(None).await? {
            let entry: &mut (usize, usize) = counts.entry(domain.tenant.to_string()).or_default();
            entry.1 += 1;
            if domain.status == tenancy_domains::DomainStatus::Verified {
                entry.0 += 1;
            }
        }
    }
    Ok(counts)
}

/// The list's columns for domains and usage, when the portal has them.
fn extra_heads(portal: &Portal) -> String {
    let mut heads = String::new();
    if portal.domains.is_some() {
        heads.push_str("<th>domains verified</th>");
    }
    if portal.usage.is_some() {
        heads.push_str("<th>requests, 7 days</th><th>rows written, 7 days</th>");
    }
    heads
}

/// A tenant's cells under [`extra_heads`].
fn extra_cells(
    portal: &Portal,
    domains: Option<&(usize, usize)>,
    usage: Option<&std::collections::BTreeMap<String, i64>>,
) -> String {
    let mut cells = String::new();
    if portal.domains.is_some() {
        let (verified, all) = domains.copied().unwrap_or_default();
        let _ = write!(cells, "<td>{verified} of {all}</td>");
    }
    if portal.usage.is_some() {
        let metric = |name: &str| usage.and_then(|u| u.get(name)).copied().unwrap_or(0);
        let _ = write!(
            cells,
            "<td>{}</td><td>{}</td>",
            metric(tenancy_metering::names::REQUESTS),
            metric(tenancy_metering::names::ROWS_WRITTEN)
        );
    }
    cells
}

/// Records a staff action in the tenant's own activity trail (when the
/// portal has one), before the action: the tenant sees who of the staff
/// did what, even when the action fails afterwards.
async fn note(
    portal: &Portal,
    tenant: &Tenant,
    actor: &str,
    action: &str,
    target: &str,
) -> Result<(), PortalError> {
    let Some((trail, pool)) = &portal.trail else {
        return Ok(());
    };
    let writer = tenant.to_builder().status(TenantStatus::Active).build();
    let mut tx = pool.begin(&writer).await?;
    trail
        .record(&mut tx, &format!("staff:{actor}"), action, target)
        .await?;
    tx.commit().await?;
    Ok(())
}

/// The tenant's latest activity, if the portal shows trails.
async fn trail_of(portal: &Portal, tenant: &Tenant) -> Result<Vec<TrailEntry>, PortalError> {
    let Some((trail, pool)) = &portal.trail else {
        return Ok(Vec::new());
    };
    // Read also when suspended: the portal is where one looks at why.
    let reader = tenant.to_builder().status(TenantStatus::Active).build();
    let mut tx = pool.begin(&reader).await?;
    let entries = trail.recent(&mut tx, 50).await?;
    tx.rollback().await?;
    Ok(entries)
}

/// The tenant's usage of the last 7 days as a page section (empty without
/// usage).
async fn usage_section(portal: &Portal, tenant: &Tenant) -> Result<String, PortalError> {
    if portal.usage.is_none() {
        return Ok(String::new());
    }
    let usage = usage_by_tenant(portal).await?;
    let mut rows = String::new();
    for (metric, value) in usage
        .get(&tenant.id_ref().to_string())
        .into_iter()
        .flatten()
    {
        let _ = write!(rows, "<tr><td>{}</td><td>{value}</td></tr>", escape(metric));
    }
    Ok(format!(
        "<h2>Usage, last 7 days</h2><table><thead><tr><th>metric</th><th>total</th></tr></thead>\
         <tbody>{rows}</tbody></table>"
    ))
}

/// The tenant's activity as a page section (empty without trails).
async fn trail_section(portal: &Portal, tenant: &Tenant) -> Result<String, PortalError> {
    if portal.trail.is_none() {
        return Ok(String::new());
    }
    let mut rows = String::new();
    for entry in trail_of(portal, tenant).await? {
        let actor = match &entry.impersonated_by {
            Some(staff) => format!(
                "{} (impersonated by {})",
                escape(&entry.actor),
                escape(staff)
            ),
            None => escape(&entry.actor),
        };
        let _ = write!(
            rows,
            "<tr><td>{}</td><td>{actor}</td><td>{}</td><td>{}</td></tr>",
            trail_json(&entry)["at"],
            escape(&entry.action),
            escape(&entry.target)
        );
    }
    Ok(format!(
        "<h2>Activity</h2><table><thead><tr><th>at (Unix time)</th><th>actor</th><th>action</th>\
         <th>target</th></tr></thead><tbody>{rows}</tbody></table>"
    ))
}

fn trail_json(entry: &TrailEntry) -> serde_json::Value {
    serde_json::json!({
        "at": entry.at.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs()).unwrap_or_default(),
        "actor": entry.actor,
        "impersonated_by": entry.impersonated_by,
        "action": entry.action,
        "target": entry.target,
    })
}

fn tenant_json(tenant: &Tenant) -> serde_json::Value {
    serde_json::json!({
        "id": tenant.id_ref().to_string(),
        "slug": tenant.slug().as_str(),
        "name": tenant.name(),
        "status": tenant.status().as_str(),
        "plan": tenant.settings().plan,
    })
}

fn domain_json(domain: &TenantDomain) -> serde_json::Value {
    serde_json::json!({
        "domain": domain.domain.as_str(),
        "status": domain.status.as_str(),
        "primary": domain.primary,
        "tls": domain.tls.as_str(),
        "txt_name": domain.domain.challenge_name(),
        "txt_value": domain.txt_value(),
        "failure": domain.failure,
    })
}

#[derive(Deserialize, Default)]
struct Search {
    #[serde(default)]
    q: String,
}

const PAGE: u32 = 200;

async fn search(portal: &Portal, query: &str) -> Result<Vec<Tenant>, PortalError> {
    if query.chars().count() > 200 {
        return Err(PortalError::BadRequest(
            "a search is at most 200 characters".to_owned(),
        ));
    }
    Ok(portal.store.search(query, PAGE).await?)
}

#[derive(Deserialize)]
struct NewTenant {
    csrf: Option<String>,
    slug: String,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    plan: Option<String>,
}

async fn create(portal: &Portal, new: &NewTenant) -> Result<Tenant, PortalError> {
    let slug: TenantSlug =
        new.slug.trim().parse().map_err(|e| {
            PortalError::BadRequest(format!("invalid tenant slug {:?}: {e}", new.slug))
        })?;
    let mut settings = TenantSettings::default();
    if let Some(plan) = new.plan.as_deref().map(str::trim).filter(|p| !p.is_empty()) {
        settings = settings.with_plan(plan);
    }
    let name = new
        .name
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty())
        .unwrap_or(slug.as_str())
        .to_owned();
    let id = TenantId::new_v4();
    let settings = settings.with_placement(portal.place.of(&id));
    let tenant = Tenant::builder(id, slug)
        .name(name)
        .settings(settings)
        .build();
    portal.lifecycle.create(&tenant, None).await?;
    portal.on_change.call(&tenant);
    Ok(tenant)
}

async fn set_status(
    portal: &Portal,
    actor: &str,
    slug: &str,
    status: TenantStatus,
) -> Result<Tenant, PortalError> {
    let tenant = tenant(portal, slug).await?;
    let action = if status == TenantStatus::Active {
        "admin.resume"
    } else {
        "admin.suspend"
    };
    note(portal, &tenant, actor, action, slug).await?;
    let changed = match status {
        TenantStatus::Active => portal.lifecycle.reactivate(tenant.id_ref()).await?,
        _ => portal.lifecycle.suspend(tenant.id_ref()).await?,
    };
    if !changed {
        return Err(PortalError::NotFound(format!("no tenant {slug}")));
    }
    portal.on_change.call(&tenant);
    self::tenant(portal, slug).await
}

#[derive(Deserialize)]
struct Deletion {
    csrf: Option<String>,
    #[serde(default)]
    confirm: Option<String>,
}

/// Deletes `slug` when `confirm` is its slug; a dry run otherwise. Returns
/// whether it deleted, and the rows per table.
async fn delete(
    portal: &Portal,
    slug: &str,
    confirm: Option<&str>,
) -> Result<(bool, Vec<(String, u64)>), PortalError> {
    let tenant = tenant(portal, slug).await?;
    let confirmed = match confirm.map(str::trim) {
        None | Some("") => false,
        Some(typed) if typed == tenant.slug().as_str() => true,
        Some(typed) => {
            return Err(PortalError::BadRequest(format!(
                "to delete {slug}, type its slug to confirm (got {typed:?})"
            )));
        }
    };
    if confirmed {
        for domain in domains_of(portal, &tenant).await? {
            if let Some((domains, _)) = &portal.domains {
                domains.remove(tenant.id_ref(), &domain.domain).await?;
            }
        }
    }
    let report = portal.lifecycle.delete(&tenant, !confirmed).await?;
    if confirmed {
        portal.on_change.call(&tenant);
    }
    Ok((confirmed, report.tables))
}

#[derive(Deserialize)]
struct DomainForm {
    csrf: Option<String>,
    domain: String,
}

async fn add_domain(
    portal: &Portal,
    actor: &str,
    slug: &str,
    domain: &str,
) -> Result<TenantDomain, PortalError> {
    let tenant = tenant(portal, slug).await?;
    let (domains, _) = portal
        .domains
        .as_ref()
        .ok_or_else(|| PortalError::NotFound("this portal does not manage domains".to_owned()))?;
    let name: DomainName = domain
        .parse()
        .map_err(|e| PortalError::BadRequest(format!("{e}")))?;
    note(portal, &tenant, actor, "admin.domain.add", name.as_str()).await?;
    Ok(domains.add(tenant.id_ref(), &name).await?)
}

async fn verify_domain(
    portal: &Portal,
    actor: &str,
    slug: &str,
    domain: &str,
) -> Result<TenantDomain, PortalError> {
    let tenant = tenant(portal, slug).await?;
    let (domains, verifier) = portal
        .domains
        .as_ref()
        .ok_or_else(|| PortalError::NotFound("this portal does not manage domains".to_owned()))?;
    let name: DomainName = domain
        .parse()
        .map_err(|e| PortalError::BadRequest(format!("{e}")))?;
    match domains.get(&name).await? {
        Some(found) if found.tenant == tenant.id() => {
            note(portal, &tenant, actor, "admin.domain.verify", name.as_str()).await?;
            Ok(domains.verify(&name, verifier).await?)
        }
        _ => Err(PortalError::NotFound(format!(
            "{slug} has no domain {name}"
        ))),
    }
}

// ---- pages ----

async fn list_page(
    staff: Staff,
    State(portal): State<Shared>,
    Query(search_for): Query<Search>,
) -> Response {
    page_or_refusal(async {
        let tenants = search(&portal, &search_for.q).await.map_err(refuse_page(&portal))?;
        let usage = usage_by_tenant(&portal).await.map_err(refuse_page(&portal))?;
        let counts = domain_counts(&portal).await.map_err(refuse_page(&portal))?;
        let base = escape(&portal.base);
        let mut rows = String::new();
        for t in &tenants {
            let id = t.id_ref().to_string();
            let extra = extra_cells(&portal, counts.get(&id), usage.get(&id));
            let _ = write!(
                rows,
                "<tr><td><a href=\"{base}/tenants/{slug}\">{slug}</a></td><td>{name}</td>\
                 <td class=\"status-{status}\">{status}</td><td>{plan}</td>{extra}</tr>",
                slug = escape(t.slug().as_str()),
                name = escape(t.name()),
                status = t.status().as_str(),
                plan = escape(t.settings().plan.as_deref().unwrap_or("")),
            );
        }
        let body = format!(
            "<form method=\"get\" action=\"{base}/tenants\"><input name=\"q\" value=\"{q}\" placeholder=\"slug, name or id\">\
             <button type=\"submit\">Search</button></form>\
             <table><thead><tr><th>slug</th><th>name</th><th>status</th><th>plan</th>{extra_heads}</tr></thead><tbody>{rows}</tbody></table>\
             <h2>New tenant</h2>{create}<p>Signed in as {actor}.</p>",
            q = escape(&search_for.q),
            extra_heads = extra_heads(&portal),
            create = form(
                &format!("{}/tenants", portal.base),
                &staff.csrf,
                "<input name=\"slug\" placeholder=\"slug\" required><input name=\"name\" placeholder=\"name\">\
                 <input name=\"plan\" placeholder=\"plan\">",
                "Create"
            ),
            actor = escape(&staff.actor),
        );
        Ok(staff.respond(page(&portal.base, "Tenants", &body)))
    }
    .await)
}

async fn create_page(
    staff: Staff,
    State(portal): State<Shared>,
    Form(new): Form<NewTenant>,
) -> Response {
    page_or_refusal(async {
        staff.check(new.csrf.as_deref()).map_err(refuse_page(&portal))?;
        let tenant = create(&portal, &new).await.map_err(refuse_page(&portal))?;
        tracing::info!(actor = %staff.actor, tenant = %tenant.slug(), "admin portal: tenant created");
        Ok(Redirect::to(&format!("{}/tenants/{}", portal.base, tenant.slug())).into_response())
    }
    .await)
}

async fn detail_page(
    staff: Staff,
    State(portal): State<Shared>,
    Path(slug): Path<String>,
) -> Response {
    page_or_refusal(async {
        let tenant = tenant(&portal, &slug).await.map_err(refuse_page(&portal))?;
        let domains = domains_of(&portal, &tenant).await.map_err(refuse_page(&portal))?;
        let at = format!("{}/tenants/{}", portal.base, tenant.slug());
        let mut domain_rows = String::new();
        for d in &domains {
            let _ = write!(
                domain_rows,
                "<tr><td>{name}</td><td class=\"status-{status}\">{status}</td><td>{primary}</td><td>{tls}</td>\
                 <td><code>{txt_name} TXT \"{txt_value}\"</code></td><td>{failure}</td><td>{verify}</td></tr>",
                name = escape(d.domain.as_str()),
                status = d.status.as_str(),
                primary = if d.primary { "primary" } else { "" },
                tls = d.tls.as_str(),
                txt_name = escape(&d.domain.challenge_name()),
                txt_value = escape(&d.txt_value()),
                failure = escape(d.failure.as_deref().unwrap_or("")),
                verify = form(
                    &format!("{at}/domains/verify"),
                    &staff.csrf,
                    &format!("<input type=\"hidden\" name=\"domain\" value=\"{}\">", escape(d.domain.as_str())),
                    "Verify now"
                ),
            );
        }
        let domains_section = if portal.domains.is_some() {
            format!(
                "<h2>Domains</h2><table><thead><tr><th>domain</th><th>status</th><th></th><th>TLS</th>\
                 <th>proof to publish</th><th>last failure</th><th></th></tr></thead><tbody>{domain_rows}</tbody></table>{add}",
                add = form(
                    &format!("{at}/domains"),
                    &staff.csrf,
                    "<input name=\"domain\" placeholder=\"orders.example.com\" required>",
                    "Add domain"
                ),
            )
        } else {
            String::new()
        };
        let toggle = if tenant.status() == TenantStatus::Active {
            form(&format!("{at}/suspend"), &staff.csrf, "", "Suspend")
        } else {
            form(&format!("{at}/resume"), &staff.csrf, "", "Resume")
        };
        let body = format!(
            "<table><tbody><tr><th>id</th><td><code>{id}</code></td></tr><tr><th>name</th><td>{name}</td></tr>\
             <tr><th>status</th><td class=\"status-{status}\">{status}</td></tr><tr><th>plan</th><td>{plan}</td></tr></tbody></table>\
             <p>{toggle}<a href=\"{export}\">Export data</a></p>{domains_section}{usage}{trail}\
             <h2>Delete</h2>{delete}",
            trail = trail_section(&portal, &tenant).await.map_err(refuse_page(&portal))?,
            usage = usage_section(&portal, &tenant).await.map_err(refuse_page(&portal))?,
            id = escape(&tenant.id_ref().to_string()),
            name = escape(tenant.name()),
            status = tenant.status().as_str(),
            plan = escape(tenant.settings().plan.as_deref().unwrap_or("")),
            export = escape(&format!("{at}/export")),
            delete = form(&format!("{at}/delete"), &staff.csrf, "", "Dry run"),
        );
        Ok(staff.respond(page(&portal.base, tenant.slug().as_str(), &body)))
    }
    .await)
}

#[derive(Deserialize)]
struct CsrfOnly {
    csrf: Option<String>,
}

async fn status_page(
    staff: Staff,
    portal: Shared,
    slug: String,
    csrf: Option<String>,
    status: TenantStatus,
) -> Response {
    page_or_refusal(async {
        staff.check(csrf.as_deref()).map_err(refuse_page(&portal))?;
        let tenant = set_status(&portal, &staff.actor, &slug, status).await.map_err(refuse_page(&portal))?;
        tracing::info!(actor = %staff.actor, tenant = %tenant.slug(), status = status.as_str(), "admin portal: status changed");
        Ok(Redirect::to(&format!("{}/tenants/{}", portal.base, tenant.slug())).into_response())
    }
    .await)
}

async fn suspend_page(
    staff: Staff,
    State(portal): State<Shared>,
    Path(slug): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    status_page(staff, portal, slug, f.csrf, TenantStatus::Suspended).await
}

async fn resume_page(
    staff: Staff,
    State(portal): State<Shared>,
    Path(slug): Path<String>,
    Form(f): Form<CsrfOnly>,
) -> Response {
    status_page(staff, portal, slug, f.csrf, TenantStatus::Active).await
}

fn table_of(tables: &[(String, u64)]) -> String {
    let mut rows = String::new();
    for (table, n) in tables {
        let _ = write!(rows, "<tr><td>{}</td><td>{n}</td></tr>", escape(table));
    }
    format!(
        "<table><thead><tr><th>table</th><th>rows</th></tr></thead><tbody>{rows}</tbody></table>"
    )
}

async fn delete_page(
    staff: Staff,
    State(portal): State<Shared>,
    Path(slug): Path<String>,
    Form(f): Form<Deletion>,
) -> Response {
    page_or_refusal(async {
        staff.check(f.csrf.as_deref()).map_err(refuse_page(&portal))?;
        let (deleted, tables) = delete(&portal, &slug, f.confirm.as_deref()).await.map_err(refuse_page(&portal))?;
        let body = if deleted {
            tracing::warn!(actor = %staff.actor, tenant = %slug, "admin portal: tenant deleted");
            format!("<p>{} and its rows are deleted.</p>{}", escape(&slug), table_of(&tables))
        } else {
            format!(
                "<p>A dry run: deleting {slug} removes these rows. Nothing was deleted.</p>{}{}",
                table_of(&tables),
                form(
                    &format!("{}/tenants/{slug}/delete", portal.base),
                    &staff.csrf,
                    &format!("<input name=\"confirm\" placeholder=\"type {slug} to confirm\" required>"),
                    "Delete for good"
                ),
                slug = escape(&slug),
            )
        };
        Ok(staff.respond(page(&portal.base, "Delete", &body)))
    }
    .await)
}

async fn export(
    staff: Staff,
    State(portal): State<Shared>,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> Response {
    let wants_json = headers
        .get(header::ACCEPT)
        .is_some_and(|a| a.as_bytes().starts_with(b"application/json"));
    let result = async {
        let tenant = tenant(&portal, &slug).await?;
        let mut out = Vec::new();
        // Trailed before a row is read: a failed note means no export.
        note(&portal, &tenant, &staff.actor, "admin.export", &slug).await?;
        portal.lifecycle.export(&tenant, &mut out).await?;
        let disposition = format!("attachment; filename=\"{}.jsonl\"", tenant.slug());
        Ok::<_, PortalError>(
            (
                [
                    (header::CONTENT_TYPE, "application/x-ndjson".to_owned()),
                    (header::CONTENT_DISPOSITION, disposition),
                ],
                out,
            )
                .into_response(),
        )
    }
    .await;
    result.unwrap_or_else(|e| {
        if wants_json {
            e.json()
        } else {
            e.page(&portal.base)
        }
    })
}

async fn domain_page(
    staff: Staff,
    portal: Shared,
    slug: String,
    f: DomainForm,
    verify: bool,
) -> Response {
    page_or_refusal(
        async {
            staff
                .check(f.csrf.as_deref())
                .map_err(refuse_page(&portal))?;
            if verify {
                verify_domain(&portal, &staff.actor, &slug, &f.domain).await
            } else {
                add_domain(&portal, &staff.actor, &slug, &f.domain).await
            }
            .map_err(refuse_page(&portal))?;
            Ok(Redirect::to(&format!("{}/tenants/{}", portal.base, escape(&slug))).into_response())
        }
        .await,
    )
}

async fn add_domain_page(
    staff: Staff,
    State(portal): State<Shared>,
    Path(slug): Path<String>,
    Form(f): Form<DomainForm>,
) -> Response {
    domain_page(staff, portal, slug, f, false).await
}

async fn verify_domain_page(
    staff: Staff,
    State(portal): State<Shared>,
    Path(slug): Path<String>,
    Form(f): Form<DomainForm>,
) -> Response {
    domain_page(staff, portal, slug, f, true).await
}

// ---- API ----

async fn list_api(
    _staff: Staff,
    State(portal): State<Shared>,
    Query(s): Query<Search>,
) -> Response {
    json_or_refusal(
        async {
            let tenants = search(&portal, &s.q).await?;
            let usage = usage_by_tenant(&portal).await?;
            let counts = domain_counts(&portal).await?;
            let listed: Vec<_> = tenants
                .iter()
                .map(|t| {
                    let id = t.id_ref().to_string();
                    let mut json = tenant_json(t);
                    if portal.domains.is_some() {
                        let (verified, all) = counts.get(&id).copied().unwrap_or_default();
                        json["domains"] = serde_json::json!({ "verified": verified, "total": all });
                    }
                    if portal.usage.is_some() {
                        json["usage_7_days"] =
                            serde_json::json!(usage.get(&id).cloned().unwrap_or_default());
                    }
                    json
                })
                .collect();
            Ok(Json(listed).into_response())
        }
        .await,
    )
}

async fn create_api(
    staff: Staff,
    State(portal): State<Shared>,
    Json(new): Json<NewTenant>,
) -> Response {
    json_or_refusal(
        async {
            staff.check(new.csrf.as_deref())?;
            let tenant = create(&portal, &new).await?;
            Ok((StatusCode::CREATED, Json(tenant_json(&tenant))).into_response())
        }
        .await,
    )
}

async fn detail_api(
    _staff: Staff,
    State(portal): State<Shared>,
    Path(slug): Path<String>,
) -> Response {
    json_or_refusal(
        async {
            let tenant = tenant(&portal, &slug).await?;
            let mut json = tenant_json(&tenant);
            json["domains"] = domains_of(&portal, &tenant)
                .await?
                .iter()
                .map(domain_json)
                .collect();
            if portal.usage.is_some() {
                let usage = usage_by_tenant(&portal).await?;
                let own = usage.get(&tenant.id_ref().to_string()).cloned();
                json["usage_7_days"] = serde_json::json!(own.unwrap_or_default());
            }
            json["trail"] = trail_of(&portal, &tenant)
                .await?
                .iter()
                .map(trail_json)
                .collect();
            Ok(Json(json).into_response())
        }
        .await,
    )
}

async fn status_api(staff: Staff, portal: Shared, slug: String, status: TenantStatus) -> Response {
    json_or_refusal(
        async {
            staff.check(None)?;
            let tenant = set_status(&portal, &staff.actor, &slug, status).await?;
            Ok(Json(tenant_json(&tenant)).into_response())
        }
        .await,
    )
}

async fn suspend_api(
    staff: Staff,
    State(portal): State<Shared>,
    Path(slug): Path<String>,
) -> Response {
    status_api(staff, portal, slug, TenantStatus::Suspended).await
}

async fn resume_api(
    staff: Staff,
    State(portal): State<Shared>,
    Path(slug): Path<String>,
) -> Response {
    status_api(staff, portal, slug, TenantStatus::Active).await
}

async fn delete_api(
    staff: Staff,
    State(portal): State<Shared>,
    Path(slug): Path<String>,
    Json(d): Json<Deletion>,
) -> Response {
    json_or_refusal(
        async {
            staff.check(d.csrf.as_deref())?;
            let (deleted, tables) = delete(&portal, &slug, d.confirm.as_deref()).await?;
            let tables: Vec<_> = tables
                .iter()
                .map(|(t, n)| serde_json::json!({ "table": t, "rows": n }))
                .collect();
            Ok(Json(
                serde_json::json!({ "deleted": deleted, "dry_run": !deleted, "tables": tables }),
            )
            .into_response())
        }
        .await,
    )
}

async fn domain_api(
    staff: Staff,
    portal: Shared,
    slug: String,
    f: DomainForm,
    verify: bool,
) -> Response {
    json_or_refusal(
        async {
            staff.check(f.csrf.as_deref())?;
            if verify {
                let checked = verify_domain(&portal, &staff.actor, &slug, &f.domain).await?;
                Ok(Json(domain_json(&checked)).into_response())
            } else {
                let added = add_domain(&portal, &staff.actor, &slug, &f.domain).await?;
                Ok((StatusCode::CREATED, Json(domain_json(&added))).into_response())
            }
        }
        .await,
    )
}

async fn add_domain_api(
    staff: Staff,
    State(portal): State<Shared>,
    Path(slug): Path<String>,
    Json(f): Json<DomainForm>,
) -> Response {
    domain_api(staff, portal, slug, f, false).await
}

async fn verify_domain_api(
    staff: Staff,
    State(portal): State<Shared>,
    Path(slug): Path<String>,
    Json(f): Json<DomainForm>,
) -> Response {
    domain_api(staff, portal, slug, f, true).await
}

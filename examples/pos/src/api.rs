//! The HTTP API: routes, handlers and the middleware stack.

use std::time::Instant;

use axum::extract::rejection::JsonRejection;
use axum::extract::{Path, Request, State};
use axum::http::StatusCode;
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use tenancy_core::{CachedTenantStore, TenantSlug, TenantStoreExt};
use tenancy_sqlx::{PgTenantStore, Scoped, TenantPool};
use tenancy_tower::limit::TenantRateLimitLayer;
use tenancy_tower::strategy::{Header, Subdomain};
use tenancy_tower::{CurrentTenant, TenantLayer};
use tower::ServiceBuilder;
use tracing::Instrument;

use crate::auth::{DemoClaims, TokenKeys, authenticate};
use crate::error::ApiError;

tenancy_sqlx::tenant_table!(
    /// The `orders` table: one row per order, owned by a tenant.
    pub Orders = "orders" {
        id: uuid::Uuid,
        item: String,
        quantity: i32,
        total_cents: i64,
        created_at: tenancy_sqlx::column::Opaque,
    }
);

/// An order as stored and returned.
#[derive(Debug, Clone, Serialize, Deserialize, sqlx::FromRow, PartialEq, Eq)]
pub struct Order {
    /// The order id.
    pub id: uuid::Uuid,
    /// The tenant it belongs to.
    pub tenant_id: uuid::Uuid,
    /// What was ordered.
    pub item: String,
    /// How many.
    pub quantity: i32,
    /// The price in cents.
    pub total_cents: i64,
}

/// `POST /orders` body.
#[derive(Debug, Deserialize)]
pub struct NewOrder {
    item: String,
    quantity: i32,
    total_cents: i64,
}

/// `PATCH /orders/{id}` body.
#[derive(Debug, Deserialize)]
pub struct OrderChange {
    quantity: i32,
}

/// `POST /auth/demo-token` body.
#[derive(Debug, Deserialize)]
pub struct TokenRequest {
    tenant: String,
    user: String,
}

/// What handlers share.
#[derive(Debug, Clone)]
pub struct AppState {
    /// The only way handlers reach the database: tenant-bound transactions.
    pub pool: TenantPool,
    /// The tenant directory.
    pub directory: PgTenantStore,
    /// The directory as the tenant layer reads it, cached; the admin
    /// portal clears it when it changes a tenant.
    pub tenants: std::sync::Arc<CachedTenantStore<PgTenantStore>>,
    /// The demo token issuer.
    pub keys: TokenKeys,
}

/// Per-tenant rate when the tenant's plan sets none.
const DEFAULT_REQUESTS_PER_SECOND: std::num::NonZeroU32 = match std::num::NonZeroU32::new(100) {
    Some(rate) => rate,
    None => unreachable!(),
};

/// The whole application.
pub fn router(state: AppState) -> Router {
    let tenants = TenantLayer::builder(state.tenants.clone())
        .strategy(Subdomain::of("localhost")) // acme.localhost:PORT
        .strategy(Header::x_tenant()) // X-Tenant: acme
        .token_claim::<DemoClaims>() // the token's tenant must be the addressed tenant
        .require_token()
        .build();
    let rate_limit = TenantRateLimitLayer::new(DEFAULT_REQUESTS_PER_SECOND);

    let orders = Router::new()
        .route("/orders", post(create_order).get(list_orders))
        .route(
            "/orders/{id}",
            get(get_order).patch(update_order).delete(delete_order),
        )
        .layer(
            ServiceBuilder::new()
                .layer(middleware::from_fn_with_state(
                    state.keys.clone(),
                    authenticate,
                ))
                .layer(tenants)
                .layer(rate_limit),
        );

    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/auth/demo-token", post(demo_token))
        .merge(orders)
        .with_state(state)
        .layer(middleware::from_fn(request_span))
}

/// A span per request with `tenant.id`, filled in by the tenant layer.
async fn request_span(request: Request, next: Next) -> Response {
    let span = tracing::info_span!(
        "request",
        method = %request.method(),
        path = %request.uri().path(),
        tenant.id = tracing::field::Empty,
    );
    let started = Instant::now();
    async move {
        let response = next.run(request).await;
        tracing::info!(
            status = response.status().as_u16(),
            micros = started.elapsed().as_micros(),
            "served"
        );
        response
    }
    .instrument(span)
    .await
}

async fn demo_token(
    State(state): State<AppState>,
    body: Result<Json<TokenRequest>, JsonRejection>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let Json(request) = body.map_err(|r| json_error(&r))?;
    let slug: TenantSlug = request
        .tenant
        .parse()
        .map_err(|e: tenancy_core::TenantError| {
            ApiError::new(StatusCode::BAD_REQUEST, e.to_string())
        })?;
    if request.user.is_empty() || request.user.len() > 100 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "user must be 1 to 100 characters",
        ));
    }
    let tenant = TenantStoreExt::by_slug(&state.directory, &slug)
        .await
        .map_err(|_| {
            ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Tenant directory unavailable",
            )
        })?
        .ok_or_else(|| ApiError::new(StatusCode::NOT_FOUND, "Tenant not found"))?;
    Ok(Json(
        serde_json::json!({ "token": state.keys.issue(&request.user, tenant.id()) }),
    ))
}

fn json_error(rejection: &JsonRejection) -> ApiError {
    ApiError::new(rejection.status(), rejection.body_text())
}

fn parse_id(id: &str) -> Result<uuid::Uuid, ApiError> {
    uuid::Uuid::try_parse(id).map_err(|_| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            "Malformed order id: expected a UUID",
        )
    })
}

fn check_quantity(quantity: i32) -> Result<(), ApiError> {
    if (1..=1000).contains(&quantity) {
        Ok(())
    } else {
        Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "quantity must be between 1 and 1000",
        ))
    }
}

async fn create_order(
    State(state): State<AppState>,
    body: Result<Json<NewOrder>, JsonRejection>,
) -> Result<impl IntoResponse, ApiError> {
    let Json(new) = body.map_err(|r| json_error(&r))?;
    let item = new.item.trim();
    if item.is_empty() || item.chars().count() > 200 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "item must be 1 to 200 characters",
        ));
    }
    check_quantity(new.quantity)?;
    if new.total_cents < 0 {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "total_cents must not be negative",
        ));
    }
    // The tenant comes from the request's TenantContext; it is never read
    // from the body.
    let mut tx = state.pool.begin_current().await?;
    let order: Order = Scoped::<Orders>::insert()
        .value(Orders::item, item)
        .value(Orders::quantity, new.quantity)
        .value(Orders::total_cents, new.total_cents)
        .for_current_tenant()?
        .returning(&mut tx)
        .await?;
    tx.commit().await?;
    Ok((StatusCode::CREATED, Json(order)))
}

async fn list_orders(
    State(state): State<AppState>,
    tenant: CurrentTenant,
) -> Result<Json<Vec<Order>>, ApiError> {
    let mut tx = state.pool.begin(&tenant).await?;
    let orders = Scoped::<Orders>::select()
        .order_by(Orders::created_at, tenancy_sqlx::scoped::Order::Asc)
        .for_tenant(&tenant)
        .fetch_all(&mut tx)
        .await?;
    tx.commit().await?;
    Ok(Json(orders))
}

async fn get_order(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    Path(id): Path<String>,
) -> Result<Json<Order>, ApiError> {
    let id = parse_id(&id)?;
    let mut tx = state.pool.begin(&tenant).await?;
    let order = Scoped::<Orders>::select()
        .where_eq(Orders::id, id)
        .for_tenant(&tenant)
        .fetch_optional(&mut tx)
        .await?;
    tx.commit().await?;
    order.map(Json).ok_or_else(ApiError::order_not_found)
}

async fn update_order(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    Path(id): Path<String>,
    body: Result<Json<OrderChange>, JsonRejection>,
) -> Result<Json<Order>, ApiError> {
    let id = parse_id(&id)?;
    let Json(change) = body.map_err(|r| json_error(&r))?;
    check_quantity(change.quantity)?;
    let mut tx = state.pool.begin(&tenant).await?;
    let mut changed: Vec<Order> = Scoped::<Orders>::update()
        .set(Orders::quantity, change.quantity)
        .where_eq(Orders::id, id)
        .for_tenant(&tenant)
        .returning(&mut tx)
        .await?;
    tx.commit().await?;
    changed
        .pop()
        .map(Json)
        .ok_or_else(ApiError::order_not_found)
}

async fn delete_order(
    State(state): State<AppState>,
    tenant: CurrentTenant,
    Path(id): Path<String>,
) -> Result<StatusCode, ApiError> {
    let id = parse_id(&id)?;
    let mut tx = state.pool.begin(&tenant).await?;
    let deleted = Scoped::<Orders>::delete()
        .where_eq(Orders::id, id)
        .for_tenant(&tenant)
        .execute(&mut tx)
        .await?;
    tx.commit().await?;
    if deleted == 1 {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::order_not_found())
    }
}

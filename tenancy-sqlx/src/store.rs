//! [`PgTenantStore`]: tenants kept in a PostgreSQL table.

use sqlx::types::Json;
use sqlx::{AssertSqlSafe, PgPool};
use tenancy_core::rls::Ident;
use tenancy_core::uuid::Uuid;
use tenancy_core::{
    Lookup, Placement, SchemaName, StoreError, Tenant, TenantId, TenantKey, TenantSettings,
    TenantSlug, TenantStatus, TenantStore,
};

use crate::{PgTenantId, Result};

/// A [`TenantStore`] backed by a PostgreSQL table (default
/// `tenancy_tenants`), for `tenancy-tower`'s resolution layer.
///
/// The table is a directory of tenants, not tenant data: it is **not** under
/// row-level security, and the store queries it with a plain pool. Grant the
/// application role `SELECT` on it, and only administrators `INSERT`/`UPDATE`.
/// Create it with [`PgTenantStore::create_table_sql`].
///
/// A status other than `active` or `moving` is read as suspended: an
/// unknown status fails closed.
///
/// For tenant ids of another type: `PgTenantStore::<i64>::from(pool)`; the
/// table's `id` column then has that type.
#[derive(Debug)]
pub struct PgTenantStore<K = Uuid> {
    pool: PgPool,
    table: Ident,
    id_type: std::marker::PhantomData<fn() -> K>,
}

impl<K> Clone for PgTenantStore<K> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            table: self.table.clone(),
            id_type: std::marker::PhantomData,
        }
    }
}

/// The row shape of the tenants table.
type Row<K> = (K, String, String, String, Json<TenantSettings>);

impl PgTenantStore<Uuid> {
    /// A store on table `tenancy_tenants`, of tenants with UUID ids.
    pub fn new(pool: PgPool) -> Self {
        Self::from(pool)
    }
}

impl<K> From<PgPool> for PgTenantStore<K> {
    /// A store on table `tenancy_tenants`, of tenants with ids of type `K`.
    fn from(pool: PgPool) -> Self {
        Self {
            pool,
            table: Ident::new("tenancy_tenants").unwrap_or_else(|_| unreachable!("valid name")),
            id_type: std::marker::PhantomData,
        }
    }
}

impl<K: PgTenantId> PgTenantStore<K> {
    /// Uses another table (optionally `schema.table`).
    pub fn with_table(mut self, table: &str) -> Result<Self> {
        self.table = Ident::new(table)?;
        Ok(self)
    }

    /// `CREATE TABLE IF NOT EXISTS` for the tenants table: id, unique slug,
    /// unique custom domain, display name, status and settings (JSON).
    pub fn create_table_sql(&self) -> String {
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (\n    \
             id {ty} PRIMARY KEY,\n    \
             slug text NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{{0,61}}[a-z0-9])?$'),\n    \
             domain text UNIQUE CHECK (domain = lower(domain)),\n    \
             name text NOT NULL,\n    \
             status text NOT NULL DEFAULT 'active',\n    \
             settings jsonb NOT NULL DEFAULT '{{}}'\n);\n",
            t = self.table.sql(),
            ty = K::SQL_TYPE.as_str(),
        )
    }

    /// Adds a tenant, with an optional custom domain (stored lowercase).
    /// Needs `INSERT` on the table: an administrator pool.
    pub async fn insert(&self, tenant: &Tenant<K>, domain: Option<&str>) -> Result<()> {
        let sql = format!(
            "INSERT INTO {} (id, slug, domain, name, status, settings) VALUES ($1, $2, $3, $4, $5, $6)",
            self.table.sql()
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(tenant.id_ref().value())
            .bind(tenant.slug().as_str())
            .bind(domain.map(str::to_ascii_lowercase))
            .bind(tenant.name())
            .bind(tenant.status().as_str())
            .bind(Json(tenant.settings()))
            .execute(&self.pool)
            .await?;
        Ok(())
    }

    /// Changes a tenant's status (suspend, reactivate). Returns whether the
    /// tenant exists.
    pub async fn set_status(&self, id: &TenantId<K>, status: TenantStatus) -> Result<bool> {
        let sql = format!("UPDATE {} SET status = $2 WHERE id = $1", self.table.sql());
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(id.value())
            .bind(status.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Changes a tenant's status from `from` to `to`, only if it is `from`
    /// now (one statement, so a concurrent change is never overwritten).
    /// Returns whether it changed.
    pub async fn replace_status(
        &self,
        id: &TenantId<K>,
        from: TenantStatus,
        to: TenantStatus,
    ) -> Result<bool> {
        let sql = format!(
            "UPDATE {} SET status = $3 WHERE id = $1 AND status = $2",
            self.table.sql()
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(id.value())
            .bind(from.as_str())
            .bind(to.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes a tenant's entry (after its data is gone). Returns whether
    /// it existed.
    pub async fn remove(&self, id: &TenantId<K>) -> Result<bool> {
        let sql = format!("DELETE FROM {} WHERE id = $1", self.table.sql());
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(id.value())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Moves a tenant: records where its data lives now (its own schema,
    /// another target). Returns whether the tenant exists. Clear caches in
    /// front of the store (e.g. tenancy-tower's) for the move to take
    /// effect at once.
    pub async fn set_placement(&self, id: &TenantId<K>, placement: &Placement) -> Result<bool> {
        let sql = format!(
            "UPDATE {} SET settings = settings - 'placement' || $2 WHERE id = $1",
            self.table.sql()
        );
        let patch = if placement.is_shared() {
            serde_json::json!({})
        } else {
            serde_json::json!({ "placement": placement })
        };
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(id.value())
            .bind(Json(patch))
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Tenants whose slug or name contains `query` (case-insensitive), or
    /// whose id is `query`, by slug; at most `limit`. An empty query lists
    /// the first `limit` tenants. `%` and `_` in the query are literal.
    pub async fn search(&self, query: &str, limit: u32) -> Result<Vec<Tenant<K>>> {
        let sql = format!(
            "SELECT id, slug, name, status, settings FROM {} \
             WHERE slug ILIKE $1 ESCAPE '\\' OR name ILIKE $1 ESCAPE '\\' OR id::text = $2 \
             ORDER BY slug LIMIT $3",
            self.table.sql()
        );
        let pattern = format!("%{}%", like_escaped(query.trim()));
        let rows: Vec<Row<K>> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(pattern)
            .bind(query.trim())
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|row| {
                to_tenant(row).map_err(|e| crate::Error::Database(sqlx::Error::Decode(e.into())))
            })
            .collect()
    }

    /// The schemas the tenants' placements name, sorted, without reading
    /// the ids: what `tenancy schemas migrate` needs, whatever the id type.
    pub async fn schema_names(&self) -> Result<Vec<SchemaName>> {
        let sql = format!(
            "SELECT DISTINCT settings->'placement'->>'schema' FROM {} \
             WHERE settings->'placement'->>'schema' IS NOT NULL ORDER BY 1",
            self.table.sql()
        );
        let rows: Vec<String> = sqlx::query_scalar(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.iter()
            .map(|schema| Ok(SchemaName::new(schema)?))
            .collect()
    }

    /// The schemas of all tenants that have one, by tenant: the list that
    /// [`SchemaProvisioner::migrate_all`](crate::schemas::SchemaProvisioner::migrate_all)
    /// takes. A malformed schema name in the table is an error, not skipped.
    pub async fn tenant_schemas(&self) -> Result<Vec<(TenantId<K>, SchemaName)>> {
        let sql = format!(
            "SELECT id, settings->'placement'->>'schema' FROM {} \
             WHERE settings->'placement'->>'schema' IS NOT NULL ORDER BY id",
            self.table.sql()
        );
        let rows: Vec<(K, String)> = sqlx::query_as(AssertSqlSafe(sql))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter()
            .map(|(id, schema)| Ok((TenantId::new(id)?, SchemaName::new(&schema)?)))
            .collect()
    }

    async fn find(&self, column: &str, value: &str) -> Result<Option<Tenant<K>>, StoreError> {
        let sql = format!(
            "SELECT id, slug, name, status, settings FROM {} WHERE {column}{} = $1",
            self.table.sql(),
            if column == "id" { "::text" } else { "" }
        );
        let row: Option<Row<K>> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(value)
            .fetch_optional(&self.pool)
            .await
            .map_err(StoreError::new)?;
        row.map(to_tenant).transpose()
    }
}

/// `text` with `LIKE`'s wildcards and escape character made literal.
fn like_escaped(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if matches!(c, '%' | '_' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn to_tenant<K: PgTenantId>(
    (id, slug, name, status, Json(settings)): Row<K>,
) -> Result<Tenant<K>, StoreError> {
    let slug: TenantSlug = slug.parse().map_err(StoreError::new)?;
    let status = if status == TenantStatus::Active.as_str() {
        TenantStatus::Active
    } else if status == TenantStatus::Moving.as_str() {
        TenantStatus::Moving
    } else {
        TenantStatus::Suspended
    };
    let id = TenantId::new(id).map_err(StoreError::new)?;
    Ok(Tenant::builder(id, slug)
        .name(name)
        .status(status)
        .settings(settings)
        .build())
}

#[async_trait::async_trait]
impl<K: PgTenantId> TenantStore<K> for PgTenantStore<K> {
    async fn lookup(&self, key: &TenantKey<K>) -> Result<Lookup<K>, StoreError> {
        let found = match key {
            TenantKey::Slug(slug) => self.find("slug", slug.as_str()).await,
            TenantKey::Id(id) => self.find("id", &id.to_string()).await,
            TenantKey::Domain(domain) => self.find("domain", domain).await,
        };
        found.map(Lookup::from)
    }
}

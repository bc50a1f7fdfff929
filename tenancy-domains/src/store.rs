//! [`DomainStore`]: tenant domains and their life in PostgreSQL.

use std::time::{Duration, SystemTime};

use sqlx::{AssertSqlSafe, PgPool};
use tenancy_core::TenantId;
use tenancy_core::rls::Ident;
use tenancy_sqlx::PgTenantId;
use uuid::Uuid;

use crate::{
    CheckError, Checked, DomainName, DomainStatus, DomainVerifier, TenantDomain, TlsStatus,
};

/// An error of the domain store.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DomainError {
    /// The domain belongs to another tenant. Which one is not said.
    #[error("the domain {0} is already taken")]
    Taken(DomainName),
    /// No such domain (for this tenant).
    #[error("no domain {0}")]
    NotFound(DomainName),
    /// A stored row did not read back (edited by hand?).
    #[error("the stored domain row is invalid: {0}")]
    Corrupt(String),
    /// The check could not run.
    #[error(transparent)]
    Check(#[from] CheckError),
    /// The database refused or could not be reached.
    #[error("domain store: {0}")]
    Database(#[from] sqlx::Error),
}

/// Tenant domains in a PostgreSQL table (default `tenancy_domains`): each
/// with its tenant, status, proof token, primary flag, TLS status and
/// timestamps.
///
/// The table is a directory, like the tenants table: not under row-level
/// security. The application role needs `SELECT` (to resolve verified
/// domains); adding, verifying and removing are for an administrator or
/// the tenant's own settings page, through a role that may write it.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let db = tenancy_testing::test_database();
/// # let pool = sqlx::PgPool::connect(db.owner_url()).await?;
/// use tenancy_core::TenantId;
/// use tenancy_domains::{DomainStatus, DomainStore};
///
/// let store = DomainStore::new(pool);
/// sqlx::raw_sql(sqlx::AssertSqlSafe(store.create_table_sql())).execute(store.pool()).await?;
/// let acme = TenantId::new_v4();
/// let added = store.add(&acme, &"orders.acme-corp.com".parse()?).await?;
/// assert_eq!(added.status, DomainStatus::Pending);
/// // Tell the tenant to publish this, then call `store.verify(...)`:
/// println!("TXT {} \"{}\"", added.domain.challenge_name(), added.txt_value());
/// // Until then the domain resolves to nobody.
/// assert_eq!(store.verified_tenant("orders.acme-corp.com").await?, None);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct DomainStore<K = Uuid> {
    pool: PgPool,
    table: Ident,
    pending_for: Duration,
    id_type: std::marker::PhantomData<fn() -> K>,
}

impl<K> Clone for DomainStore<K> {
    fn clone(&self) -> Self {
        Self {
            pool: self.pool.clone(),
            table: self.table.clone(),
            pending_for: self.pending_for,
            id_type: std::marker::PhantomData,
        }
    }
}

impl DomainStore<Uuid> {
    /// A store on table `tenancy_domains`, of tenants with UUID ids.
    pub fn new(pool: PgPool) -> Self {
        Self::from(pool)
    }
}

impl<K> From<PgPool> for DomainStore<K> {
    /// A store on table `tenancy_domains`, of tenants with ids of type `K`.
    fn from(pool: PgPool) -> Self {
        Self {
            pool,
            table: Ident::new("tenancy_domains").unwrap_or_else(|_| unreachable!("valid name")),
            pending_for: Duration::from_hours(7 * 24),
            id_type: std::marker::PhantomData,
        }
    }
}

/// The columns read back, in order.
const COLUMNS: &str = "domain, tenant_id, status, token, is_primary, tls_status, \
    extract(epoch FROM created_at)::float8, extract(epoch FROM verified_at)::float8, \
    extract(epoch FROM checked_at)::float8, failure";

type Row<K> = (
    String,
    K,
    String,
    String,
    bool,
    String,
    f64,
    Option<f64>,
    Option<f64>,
    Option<String>,
);

impl<K: PgTenantId> DomainStore<K> {
    /// Uses another table (optionally `schema.table`).
    pub fn with_table(mut self, table: &str) -> Result<Self, tenancy_core::rls::InvalidName> {
        self.table = Ident::new(table)?;
        Ok(self)
    }

    /// How long a domain may stay pending before it expires (7 days by
    /// default).
    #[must_use]
    pub fn pending_for(mut self, window: Duration) -> Self {
        self.pending_for = window;
        self
    }

    /// The pool the store uses.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// `CREATE TABLE IF NOT EXISTS` for the domains table and its indexes:
    /// one row per domain (so a domain has one tenant), at most one primary
    /// domain per tenant.
    pub fn create_table_sql(&self) -> String {
        let t = self.table.sql();
        let name = self.table.unqualified();
        format!(
            "CREATE TABLE IF NOT EXISTS {t} (\n    \
             domain text PRIMARY KEY CHECK (domain = lower(domain) AND domain !~ '\\.$'),\n    \
             tenant_id {ty} NOT NULL,\n    \
             status text NOT NULL DEFAULT 'pending' \
             CHECK (status IN ('pending', 'verified', 'failed', 'expired')),\n    \
             token text NOT NULL,\n    \
             is_primary boolean NOT NULL DEFAULT false,\n    \
             tls_status text NOT NULL DEFAULT 'none' \
             CHECK (tls_status IN ('none', 'pending', 'issued', 'failed')),\n    \
             created_at timestamptz NOT NULL DEFAULT now(),\n    \
             verified_at timestamptz,\n    \
             checked_at timestamptz,\n    \
             failure text\n);\n\
             CREATE UNIQUE INDEX IF NOT EXISTS {primary} ON {t} (tenant_id) WHERE is_primary;\n\
             CREATE INDEX IF NOT EXISTS {by_tenant} ON {t} (tenant_id);\n",
            ty = K::SQL_TYPE.as_str(),
            primary = Ident::new(&tenancy_core::rls::bounded_name(&format!(
                "{name}_one_primary"
            )))
            .map_or_else(|_| String::from("tenancy_domains_one_primary"), |i| i.sql()),
            by_tenant = Ident::new(&tenancy_core::rls::bounded_name(&format!(
                "{name}_tenant_id"
            )))
            .map_or_else(|_| String::from("tenancy_domains_tenant_id"), |i| i.sql()),
        )
    }

    /// Adds `domain` to `tenant`, pending, with a fresh proof token. Adding
    /// a domain the tenant already has returns it unchanged;
    /// [`DomainError::Taken`] if another tenant has it (in any status:
    /// remove it there first).
    pub async fn add(
        &self,
        tenant: &TenantId<K>,
        domain: &DomainName,
    ) -> Result<TenantDomain<K>, DomainError> {
        let sql = format!(
            "INSERT INTO {} (domain, tenant_id, token) VALUES ($1, $2, $3) \
             ON CONFLICT (domain) DO NOTHING",
            self.table.sql()
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(domain.as_str())
            .bind(tenant.value())
            .bind(new_token())
            .execute(&self.pool)
            .await?;
        match self.get(domain).await? {
            Some(found) if found.tenant == *tenant => Ok(found),
            Some(_) => Err(DomainError::Taken(domain.clone())),
            None => Err(DomainError::NotFound(domain.clone())),
        }
    }

    /// The domain's record, whatever its status.
    pub async fn get(&self, domain: &DomainName) -> Result<Option<TenantDomain<K>>, DomainError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {} WHERE domain = $1",
            self.table.sql()
        );
        let row: Option<Row<K>> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(domain.as_str())
            .fetch_optional(&self.pool)
            .await?;
        row.map(to_domain).transpose()
    }

    /// The domains of `tenant`, or of every tenant with `None`, by domain.
    pub async fn list(
        &self,
        tenant: Option<&TenantId<K>>,
    ) -> Result<Vec<TenantDomain<K>>, DomainError> {
        let sql = format!(
            "SELECT {COLUMNS} FROM {} WHERE $1::text IS NULL OR tenant_id::text = $1 ORDER BY domain",
            self.table.sql()
        );
        let rows: Vec<Row<K>> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(tenant.map(ToString::to_string))
            .fetch_all(&self.pool)
            .await?;
        rows.into_iter().map(to_domain).collect()
    }

    /// The tenant a **verified** domain resolves to. Pending, failed,
    /// expired and unknown domains resolve to nobody.
    pub async fn verified_tenant(&self, domain: &str) -> Result<Option<TenantId<K>>, DomainError> {
        let sql = format!(
            "SELECT tenant_id FROM {} WHERE domain = $1 AND status = 'verified'",
            self.table.sql()
        );
        let id: Option<(K,)> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(domain)
            .fetch_optional(&self.pool)
            .await?;
        id.map(|(id,)| TenantId::new(id).map_err(|e| DomainError::Corrupt(e.to_string())))
            .transpose()
    }

    /// Checks `domain`'s proof with `verifier` and records the outcome:
    /// proven → verified; not proven → a verified or failed domain fails,
    /// a pending one stays pending (with the reason) until it is older
    /// than [`pending_for`](Self::pending_for), then expires. An expired
    /// domain is checked again like a pending one (the tenant fixed its
    /// record late).
    pub async fn verify(
        &self,
        domain: &DomainName,
        verifier: &DomainVerifier,
    ) -> Result<TenantDomain<K>, DomainError> {
        let current = self
            .get(domain)
            .await?
            .ok_or_else(|| DomainError::NotFound(domain.clone()))?;
        let outcome = verifier.check(domain, &current.token).await?;
        let (status, failure) = match outcome {
            Checked::Proven(_) => (DomainStatus::Verified, None),
            Checked::NotProven(why) => {
                let status = match current.status {
                    DomainStatus::Verified | DomainStatus::Failed => DomainStatus::Failed,
                    DomainStatus::Pending | DomainStatus::Expired => {
                        let age = SystemTime::now()
                            .duration_since(current.created_at)
                            .unwrap_or_default();
                        if age > self.pending_for {
                            DomainStatus::Expired
                        } else {
                            DomainStatus::Pending
                        }
                    }
                };
                (status, Some(why))
            }
        };
        let sql = format!(
            "UPDATE {} SET status = $2, failure = $3, checked_at = now(), \
             verified_at = CASE WHEN $2 = 'verified' THEN now() ELSE verified_at END, \
             is_primary = is_primary AND $2 = 'verified' \
             WHERE domain = $1 AND token = $4",
            self.table.sql()
        );
        sqlx::query(AssertSqlSafe(sql))
            .bind(domain.as_str())
            .bind(status.as_str())
            .bind(failure)
            .bind(&current.token)
            .execute(&self.pool)
            .await?;
        self.get(domain)
            .await?
            .ok_or_else(|| DomainError::NotFound(domain.clone()))
    }

    /// Re-checks every domain due: verified and failed ones last checked
    /// more than `every` ago, and every pending one. Returns the domains
    /// whose status changed, with their new record. Run it on a schedule
    /// (a proof removed after verification must stop resolving).
    pub async fn reverify_due(
        &self,
        verifier: &DomainVerifier,
        every: Duration,
    ) -> Result<Vec<TenantDomain<K>>, DomainError> {
        let sql = format!(
            "SELECT domain FROM {} WHERE status = 'pending' \
             OR (status IN ('verified', 'failed') \
                 AND coalesce(checked_at, created_at) < now() - make_interval(secs => $1)) \
             ORDER BY domain",
            self.table.sql()
        );
        let due: Vec<(String,)> = sqlx::query_as(AssertSqlSafe(sql))
            .bind(every.as_secs_f64())
            .fetch_all(&self.pool)
            .await?;
        let mut changed = Vec::new();
        for (domain,) in due {
            let domain =
                DomainName::parse(&domain).map_err(|e| DomainError::Corrupt(e.to_string()))?;
            let before = self.get(&domain).await?.map(|d| d.status);
            let after = self.verify(&domain, verifier).await?;
            if before != Some(after.status) {
                changed.push(after);
            }
        }
        Ok(changed)
    }

    /// Makes `domain` (verified, of `tenant`) the tenant's primary domain,
    /// and its other domains not. Returns whether it did.
    pub async fn set_primary(
        &self,
        tenant: &TenantId<K>,
        domain: &DomainName,
    ) -> Result<bool, DomainError> {
        // Two statements in one transaction: the unique index on the
        // primary flag is checked row by row, so one UPDATE that moves the
        // flag could meet the old primary first.
        let mut tx = self.pool.begin().await?;
        let promote = format!(
            "UPDATE {} SET is_primary = true \
             WHERE tenant_id = $1 AND domain = $2 AND status = 'verified'",
            self.table.sql()
        );
        let demote = format!(
            "UPDATE {} SET is_primary = false WHERE tenant_id = $1 AND domain <> $2 AND is_primary",
            self.table.sql()
        );
        sqlx::query(AssertSqlSafe(demote))
            .bind(tenant.value())
            .bind(domain.as_str())
            .execute(&mut *tx)
            .await?;
        let done = sqlx::query(AssertSqlSafe(promote))
            .bind(tenant.value())
            .bind(domain.as_str())
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 1 {
            tx.commit().await?;
            Ok(true)
        } else {
            tx.rollback().await?;
            Ok(false)
        }
    }

    /// Records the state of the domain's certificate. Returns whether the
    /// domain exists.
    pub async fn set_tls_status(
        &self,
        domain: &DomainName,
        tls: TlsStatus,
    ) -> Result<bool, DomainError> {
        let sql = format!(
            "UPDATE {} SET tls_status = $2 WHERE domain = $1",
            self.table.sql()
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(domain.as_str())
            .bind(tls.as_str())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Removes `tenant`'s `domain`. Returns whether it existed.
    pub async fn remove(
        &self,
        tenant: &TenantId<K>,
        domain: &DomainName,
    ) -> Result<bool, DomainError> {
        let sql = format!(
            "DELETE FROM {} WHERE domain = $1 AND tenant_id = $2",
            self.table.sql()
        );
        let done = sqlx::query(AssertSqlSafe(sql))
            .bind(domain.as_str())
            .bind(tenant.value())
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}

/// A fresh proof token: 64 hex digits from two random UUIDs (244 random
/// bits from the operating system's generator).
fn new_token() -> String {
    format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple())
}

fn from_epoch(seconds: f64) -> SystemTime {
    let offset = Duration::try_from_secs_f64(seconds.abs()).unwrap_or_default();
    if seconds >= 0.0 {
        SystemTime::UNIX_EPOCH + offset
    } else {
        SystemTime::UNIX_EPOCH - offset
    }
}

fn to_domain<K: PgTenantId>(
    (domain, tenant, status, token, primary, tls, created, verified, checked, failure): Row<K>,
) -> Result<TenantDomain<K>, DomainError> {
    let corrupt = |e: &dyn std::fmt::Display| DomainError::Corrupt(e.to_string());
    Ok(TenantDomain {
        domain: DomainName::parse(&domain).map_err(|e| corrupt(&e))?,
        tenant: TenantId::new(tenant).map_err(|e| corrupt(&e))?,
        status: status.parse().map_err(|e| corrupt(&e))?,
        token,
        primary,
        tls: tls.parse().map_err(|e| corrupt(&e))?,
        created_at: from_epoch(created),
        verified_at: verified.map(from_epoch),
        checked_at: checked.map(from_epoch),
        failure,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_seconds_read_back_on_both_sides_of_1970() {
        let second = Duration::from_millis(1_500);
        assert_eq!(from_epoch(1.5), SystemTime::UNIX_EPOCH + second);
        assert_eq!(from_epoch(-1.5), SystemTime::UNIX_EPOCH - second);
        assert_eq!(from_epoch(0.0), SystemTime::UNIX_EPOCH);
    }

    #[tokio::test]
    async fn a_domain_may_stay_pending_for_a_week_by_default() {
        let pool = sqlx::postgres::PgPoolOptions::new()
            .connect_lazy("postgres://localhost/unused")
            .unwrap_or_else(|e| unreachable!("{e}"));
        let store = DomainStore::new(pool);
        assert_eq!(store.pending_for, Duration::from_hours(7 * 24));
        assert_eq!(
            store.pending_for(Duration::ZERO).pending_for,
            Duration::ZERO
        );
    }
}

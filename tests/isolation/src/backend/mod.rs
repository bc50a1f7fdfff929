//! What the torture needs from a database layer, so the same run (and the
//! same checks) covers `tenancy-sqlx` and `tenancy-diesel` (diesel-async).

mod diesel;
mod sqlx;

use std::future::Future;

use tenancy_core::Tenant;
use uuid::Uuid;

pub use self::diesel::DieselAsync;
pub use self::sqlx::Sqlx;

/// What [`Backend::read`] saw.
#[derive(Debug, Clone, Default)]
pub struct Read {
    /// The owners of the rows a raw `SELECT` without `WHERE` returned
    /// (row-level security's answer).
    pub raw_owners: Vec<Uuid>,
    /// The rows the scoped builder returned: (`op`, `tenant_id`).
    pub scoped: Vec<(Uuid, Uuid)>,
}

/// An operation's error, as text (backends have different error types).
pub type BackendResult<T> = Result<T, String>;

/// How an insert ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Commit {
    /// The commit succeeded.
    Committed,
    /// The commit failed: the write may or may not have landed.
    Ambiguous,
}

/// How a never-committed transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// It sleeps 5 ms (so the caller can cancel it mid-flight).
    Sleep,
    /// It panics.
    Panic,
    /// A statement fails (division by zero).
    StatementError,
    /// It rolls back.
    Rollback,
}

/// The panic message of [`End::Panic`].
pub const INJECTED_PANIC: &str = "injected panic inside a tenant transaction";

/// The raw SQL of [`Backend::raw_sql_attack`]: a temporary `orders` that
/// would capture the next user's inserts and reads, temporary tables first
/// in the session's `search_path`, and `victim` as the session's tenant.
/// With `after_commit`, it first ends the SDK's transaction, so the rest runs
/// outside it. Not behind a transaction pooler: there the statements after a
/// `COMMIT` stay on a server connection the SDK does not see again (see
/// `docs/attacks.md`).
pub fn plant_sql(victim: &Tenant, after_commit: bool) -> String {
    format!(
        "{}CREATE TEMP TABLE IF NOT EXISTS orders (LIKE public.orders INCLUDING DEFAULTS); \
         SET search_path = pg_temp, public; SET app.tenant_id = '{}'",
        if after_commit { "COMMIT; " } else { "" },
        victim.id()
    )
}

/// Transaction options that try to make `victim` the tenant.
pub fn override_options(victim: &Tenant) -> Result<tenancy_core::rls::TxOptions, String> {
    tenancy_core::rls::TxOptions::default()
        .setting("app.tenant_id", &victim.id().to_string())
        .map_err(|e| e.to_string())
}

/// One database layer under test.
pub trait Backend: Clone + Send + Sync + 'static {
    /// A name for reports.
    fn name(&self) -> &'static str;

    /// Begins a tenant transaction, inserts a row tagged `op`, commits.
    /// `Err` when it failed before the commit (nothing landed).
    fn insert(
        &self,
        tenant: &Tenant,
        op: Uuid,
    ) -> impl Future<Output = BackendResult<Commit>> + Send;

    /// In one snapshot: the owners of every row a raw `SELECT` without
    /// `WHERE` returns, and the rows the scoped builder returns (`op`,
    /// `tenant_id`).
    fn read(&self, tenant: &Tenant) -> impl Future<Output = BackendResult<Read>> + Send;

    /// From `tenant`'s transaction: how many of `victim`'s rows it sees, how
    /// many an `UPDATE` of them changes, and whether inserting a row for the
    /// victim succeeded.
    fn attack(
        &self,
        tenant: &Tenant,
        victim: &Tenant,
    ) -> impl Future<Output = BackendResult<(i64, u64, bool)>> + Send;

    /// Begins a tenant transaction, inserts `op`, then ends as `end` says.
    /// Never commits.
    fn uncommitted(
        &self,
        tenant: &Tenant,
        op: Uuid,
        end: End,
    ) -> impl Future<Output = BackendResult<()>> + Send;

    /// Raw SQL inside `tenant`'s transaction that tries to reach the next
    /// user of the connection ([`plant_sql`]), then the transaction is
    /// committed as usual. Before that, transaction options that name
    /// `victim` as the tenant: returns whether they were accepted (a leak).
    fn raw_sql_attack(
        &self,
        tenant: &Tenant,
        victim: &Tenant,
    ) -> impl Future<Output = BackendResult<bool>> + Send;

    /// A query without a tenant on the shared pool: the tenant setting it
    /// sees and the rows it sees.
    fn no_tenant(&self) -> impl Future<Output = BackendResult<(Option<String>, i64)>> + Send;

    /// Takes every connection of the pool at once; the tenant setting each
    /// carries.
    fn pooled_settings(&self) -> impl Future<Output = BackendResult<Vec<Option<String>>>> + Send;
}

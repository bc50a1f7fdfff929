//! PostgreSQL row-level security: the SQL that `tenancy-sqlx` and
//! `tenancy-diesel` share.
//!
//! - [`SettingName`]: the configuration parameter that carries the tenant
//!   (default `app.tenant_id`), validated so it can be written into SQL.
//! - [`begin_sql`]: the one-message `BEGIN; SET LOCAL ...` that binds a
//!   tenant to a transaction with no extra round trip.
//! - [`TenantPolicy`]: migration SQL for a tenant table: column default,
//!   `NOT NULL`, index, `ENABLE` + `FORCE ROW LEVEL SECURITY` and one policy
//!   with `USING` and `WITH CHECK` in the fast `(SELECT ...)` form.
//!
//! # Why the policy looks the way it does
//!
//! ```sql
//! tenant_id = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid)
//! ```
//!
//! - `current_setting(.., true)` returns NULL instead of raising an error when
//!   the setting was never set, and `nullif(.., '')` turns the empty string a
//!   pooled connection reports after an earlier transaction into NULL too.
//!   `tenant_id = NULL` is never true: **no tenant, no rows** (and no writes).
//! - The `(SELECT ...)` wrapper makes PostgreSQL evaluate the setting once
//!   per statement (an `InitPlan`) instead of once per row: measured 6x faster
//!   on a scan of 2 million rows, and equal with an index.
//! - `FORCE` makes the policy apply to the table owner too; only superusers
//!   and `BYPASSRLS` roles skip it, so the application must connect as
//!   neither.
//! - Unique keys, primary keys and foreign keys are checked *without* RLS, so
//!   put the tenant column into each of them (`UNIQUE (tenant_id, email)`,
//!   `FOREIGN KEY (tenant_id, order_id) REFERENCES orders (tenant_id, id)`):
//!   otherwise their errors reveal that another tenant's row exists. The same
//!   rule keeps the schema ready for a distributed PostgreSQL such as Citus,
//!   where the tenant column becomes the distribution column.

use std::fmt::{self, Write as _};

use crate::TenantId;
use crate::error::shorten;

/// A name that cannot safely be written into SQL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid {kind} {name:?}: {reason}")]
pub struct InvalidName {
    kind: &'static str,
    name: String,
    reason: &'static str,
}

impl InvalidName {
    pub(crate) fn new(kind: &'static str, name: &str, reason: &'static str) -> Self {
        Self {
            kind,
            name: shorten(name),
            reason,
        }
    }
}

pub(crate) fn check_ident(kind: &'static str, name: &str) -> Result<(), InvalidName> {
    let fail = |reason| Err(InvalidName::new(kind, name, reason));
    if name.is_empty() || name.len() > 63 {
        return fail("an identifier is 1 to 63 characters long");
    }
    let mut bytes = name.bytes();
    if !bytes
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b == b'_')
    {
        return fail("an identifier starts with a-z or '_'");
    }
    if !bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_') {
        return fail("an identifier contains only a-z, 0-9 and '_'");
    }
    Ok(())
}

/// Quotes a validated identifier: `orders` → `"orders"`.
fn quoted(ident: &str) -> String {
    format!("\"{ident}\"")
}

/// A validated SQL identifier (lowercase `a-z`, `0-9`, `_`), optionally
/// schema-qualified (`billing.invoices`). Written into SQL double-quoted.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Ident(Box<str>);

impl Ident {
    /// Validates `name`.
    pub fn new(name: &str) -> Result<Self, InvalidName> {
        for part in name.split('.') {
            check_ident("SQL identifier", part)?;
        }
        if name.split('.').count() > 2 {
            return Err(InvalidName {
                kind: "SQL identifier",
                name: shorten(name),
                reason: "at most one '.' (schema.table)",
            });
        }
        Ok(Self(name.into()))
    }

    /// The name as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The last part (the table name without schema).
    pub fn unqualified(&self) -> &str {
        self.0.rsplit('.').next().unwrap_or(&self.0)
    }

    /// The name, each part double-quoted, ready for SQL.
    pub fn sql(&self) -> String {
        self.0.split('.').map(quoted).collect::<Vec<_>>().join(".")
    }
}

impl fmt::Display for Ident {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.sql())
    }
}

/// The name of the PostgreSQL configuration parameter that carries the
/// tenant id, such as `app.tenant_id`.
///
/// Custom parameters need a dot (`prefix.name`); both parts are validated as
/// identifiers, so the name can be written into SQL as is.
///
/// ```
/// use tenancy_core::rls::SettingName;
///
/// assert_eq!(SettingName::default().as_str(), "app.tenant_id");
/// assert!(SettingName::new("myapp.current_tenant").is_ok());
/// assert!(SettingName::new("tenant_id").is_err()); // no prefix
/// assert!(SettingName::new("app.x'; DROP TABLE t; --").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct SettingName(Box<str>);

impl SettingName {
    /// The default: `app.tenant_id`.
    pub const DEFAULT: &'static str = "app.tenant_id";

    /// Validates `name`: `prefix.name`, each part a lowercase identifier.
    pub fn new(name: &str) -> Result<Self, InvalidName> {
        let Some((prefix, rest)) = name.split_once('.') else {
            return Err(InvalidName {
                kind: "setting name",
                name: shorten(name),
                reason: "a custom setting needs a prefix, as in app.tenant_id",
            });
        };
        check_ident("setting name", prefix)?;
        check_ident("setting name", rest)?;
        Ok(Self(name.into()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The expression for the current tenant as the column default:
    /// `nullif(current_setting('app.tenant_id', true), '')::uuid`.
    pub fn tenant_expr(&self) -> String {
        format!("nullif(current_setting('{}', true), '')::uuid", self.0)
    }

    /// The expression for the current tenant in a policy, evaluated once per
    /// statement: `(SELECT nullif(current_setting('app.tenant_id', true), '')::uuid)`.
    pub fn policy_expr(&self) -> String {
        format!("(SELECT {})", self.tenant_expr())
    }
}

impl Default for SettingName {
    fn default() -> Self {
        Self(Self::DEFAULT.into())
    }
}

impl fmt::Display for SettingName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Transaction options written into the `BEGIN` statement.
///
/// Settings are limited to those that are safe per transaction (see
/// [`TxOptions::setting`]): nothing here can replace the tenant, the role or
/// the `search_path` that the [`TenantBinding`] sets, and the binding is
/// applied after the options anyway.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct TxOptions {
    /// `ISOLATION LEVEL ...`; `None` uses the server default.
    pub isolation: Option<IsolationLevel>,
    /// `READ ONLY`.
    pub read_only: bool,
    /// Extra transaction-local settings, each checked by
    /// [`TxOptions::setting`].
    settings: Vec<(TxSetting, SettingValue)>,
}

impl TxOptions {
    /// Sets the isolation level.
    #[must_use]
    pub fn isolation(mut self, level: IsolationLevel) -> Self {
        self.isolation = Some(level);
        self
    }

    /// Makes the transaction read-only.
    #[must_use]
    pub fn read_only(mut self) -> Self {
        self.read_only = true;
        self
    }

    /// Adds a transaction-local setting (`SET LOCAL name = 'value'`), such as
    /// `("statement_timeout", "5s")`.
    ///
    /// `name` is either one of the server settings that are safe per
    /// transaction ([`TxOptions::SAFE_SETTINGS`]: timeouts,
    /// `application_name`, memory and planner settings,
    /// `synchronous_commit`) or a custom `prefix.name` setting of the
    /// application's own, such as `app.user_id`. Anything else is refused,
    /// above all what changes who the transaction runs as or which tables
    /// its names resolve to (`role`, `session_authorization`,
    /// `search_path`, ...). The tenant setting itself is refused when the
    /// transaction begins ([`TenantError::ReservedSetting`](crate::TenantError::ReservedSetting)).
    ///
    /// ```
    /// use tenancy_core::rls::TxOptions;
    ///
    /// assert!(TxOptions::default().setting("statement_timeout", "5s").is_ok());
    /// assert!(TxOptions::default().setting("app.user_id", "42").is_ok());
    /// assert!(TxOptions::default().setting("role", "admin").is_err());
    /// assert!(TxOptions::default().setting("search_path", "pg_temp").is_err());
    /// ```
    pub fn setting(mut self, name: &str, value: &str) -> Result<Self, InvalidName> {
        self.settings
            .push((TxSetting::new(name)?, SettingValue::new(value)?));
        Ok(self)
    }

    /// The extra settings, in the order they were added.
    pub fn settings(&self) -> impl ExactSizeIterator<Item = (&str, &str)> {
        self.settings
            .iter()
            .map(|(name, value)| (name.as_str(), &*value.0))
    }

    /// The server settings [`TxOptions::setting`] accepts (besides custom
    /// `prefix.name` settings): none of them changes identity, privileges,
    /// name resolution or what a later transaction on the connection sees.
    pub const SAFE_SETTINGS: &'static [&'static str] = &[
        // Timeouts.
        "statement_timeout",
        "lock_timeout",
        "idle_in_transaction_session_timeout",
        "transaction_timeout",
        // Labels.
        "application_name",
        // Memory.
        "work_mem",
        "hash_mem_multiplier",
        "maintenance_work_mem",
        // Durability.
        "synchronous_commit",
        // Planner.
        "constraint_exclusion",
        "cpu_index_tuple_cost",
        "cpu_operator_cost",
        "cpu_tuple_cost",
        "cursor_tuple_fraction",
        "default_statistics_target",
        "effective_cache_size",
        "effective_io_concurrency",
        "enable_async_append",
        "enable_bitmapscan",
        "enable_gathermerge",
        "enable_hashagg",
        "enable_hashjoin",
        "enable_incremental_sort",
        "enable_indexonlyscan",
        "enable_indexscan",
        "enable_material",
        "enable_memoize",
        "enable_mergejoin",
        "enable_nestloop",
        "enable_parallel_append",
        "enable_parallel_hash",
        "enable_partition_pruning",
        "enable_partitionwise_aggregate",
        "enable_partitionwise_join",
        "enable_presorted_aggregate",
        "enable_seqscan",
        "enable_sort",
        "enable_tidscan",
        "from_collapse_limit",
        "geqo",
        "geqo_threshold",
        "jit",
        "jit_above_cost",
        "jit_inline_above_cost",
        "jit_optimize_above_cost",
        "join_collapse_limit",
        "max_parallel_workers_per_gather",
        "min_parallel_index_scan_size",
        "min_parallel_table_scan_size",
        "parallel_setup_cost",
        "parallel_tuple_cost",
        "plan_cache_mode",
        "random_page_cost",
        "seq_page_cost",
    ];
}

/// The name of a setting [`TxOptions`] may set: a safe server setting or a
/// custom `prefix.name` one.
#[derive(Debug, Clone, PartialEq, Eq)]
enum TxSetting {
    Server(&'static str),
    Custom(SettingName),
}

impl TxSetting {
    fn new(name: &str) -> Result<Self, InvalidName> {
        if name.contains('.') {
            return SettingName::new(name).map(Self::Custom);
        }
        match TxOptions::SAFE_SETTINGS.iter().find(|safe| **safe == name) {
            Some(safe) => Ok(Self::Server(safe)),
            None => Err(InvalidName::new(
                "transaction setting",
                name,
                "only settings that are safe per transaction may be set (timeouts, \
                 application_name, memory and planner settings, synchronous_commit, or a custom \
                 prefix.name setting); the tenant binding owns the tenant setting, role, \
                 session_authorization and search_path",
            )),
        }
    }

    fn as_str(&self) -> &str {
        match self {
            Self::Server(name) => name,
            Self::Custom(name) => name.as_str(),
        }
    }
}

/// A transaction isolation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IsolationLevel {
    /// `READ COMMITTED` (PostgreSQL's default).
    ReadCommitted,
    /// `REPEATABLE READ`.
    RepeatableRead,
    /// `SERIALIZABLE`.
    Serializable,
}

impl IsolationLevel {
    fn sql(self) -> &'static str {
        match self {
            Self::ReadCommitted => "READ COMMITTED",
            Self::RepeatableRead => "REPEATABLE READ",
            Self::Serializable => "SERIALIZABLE",
        }
    }
}

/// A setting value, written into SQL as a single-quoted literal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingValue(Box<str>);

impl SettingValue {
    /// Validates `value`: no NUL and no backslash (so the literal means the
    /// same whatever `standard_conforming_strings` says); quotes are doubled.
    pub fn new(value: &str) -> Result<Self, InvalidName> {
        if value.contains(['\0', '\\']) {
            return Err(InvalidName {
                kind: "setting value",
                name: shorten(value),
                reason: "it contains a NUL byte or a backslash",
            });
        }
        Ok(Self(value.into()))
    }

    fn sql(&self) -> String {
        format!("'{}'", self.0.replace('\'', "''"))
    }
}

/// The statement that opens a tenant transaction in one message:
/// `BEGIN [options][; SET LOCAL option = ...]; SET LOCAL app.tenant_id = '<uuid>'`,
/// then [`TEMP_LAST_SQL`], which moves temporary tables to the end of the
/// `search_path` for the transaction.
///
/// Injection-safe by construction: the setting name is validated, the tenant
/// id is a UUID (hex and hyphens only) and extra values are quoted literals.
/// The options come before the tenant, so none can replace it.
///
/// ```
/// use tenancy_core::TenantId;
/// use tenancy_core::rls::{SettingName, TEMP_LAST_SQL, TxOptions, begin_sql};
///
/// let id: TenantId = "67e55044-10b1-426f-9247-bb680e5fe0c8".parse()?;
/// assert_eq!(
///     begin_sql(&SettingName::default(), id, &TxOptions::default()),
///     format!("BEGIN; SET LOCAL app.tenant_id = '67e55044-10b1-426f-9247-bb680e5fe0c8'{TEMP_LAST_SQL}")
/// );
/// # Ok::<(), tenancy_core::TenantError>(())
/// ```
pub fn begin_sql(setting: &SettingName, tenant: TenantId, options: &TxOptions) -> String {
    begin_sql_in(setting, tenant, options, None, true)
}

/// The part of the `BEGIN` message that moves `pg_temp` to the end of the
/// `search_path` for the transaction (a tenant with its own schema gets it
/// in its `SET LOCAL search_path` instead).
///
/// PostgreSQL searches temporary tables *first* unless `pg_temp` is listed,
/// and grants `TEMPORARY` to `PUBLIC` by default: without this, one
/// `CREATE TEMP TABLE orders (...)` would shadow the real `orders` for every
/// later statement on the connection. Revoke `TEMPORARY` too
/// ([`revoke_temporary_sql`]); this is the second wall.
///
/// Any `pg_temp` the connection's own `search_path` lists is taken out
/// first: a `search_path` set at session level, such as
/// `pg_temp, public`, cannot put temporary tables back in front.
pub const TEMP_LAST_SQL: &str = "; SELECT set_config('search_path', concat_ws(', ', \
     nullif(btrim(regexp_replace(current_setting('search_path'), '(^|,)[[:space:]]*\"?pg_temp[^,]*', '', 'g'), ', '), ''), \
     'pg_temp'), true)";

/// `REVOKE TEMPORARY` on `database` from `PUBLIC` and from `app_role`: the
/// set-up step that keeps the application role from creating temporary
/// tables, which could shadow tenant tables (see [`TEMP_LAST_SQL`]).
/// Run it as the database owner or a superuser.
///
/// ```
/// use tenancy_core::rls::{Ident, revoke_temporary_sql};
///
/// let sql = revoke_temporary_sql(&Ident::new("pos")?, &Ident::new("pos_app")?);
/// assert_eq!(sql, "REVOKE TEMPORARY ON DATABASE \"pos\" FROM PUBLIC, \"pos_app\";");
/// # Ok::<(), tenancy_core::rls::InvalidName>(())
/// ```
pub fn revoke_temporary_sql(database: &Ident, app_role: &Ident) -> String {
    format!(
        "REVOKE TEMPORARY ON DATABASE {} FROM PUBLIC, {};",
        database.sql(),
        app_role.sql()
    )
}

/// [`begin_sql`] that also sets `search_path` transaction-locally, to
/// `schemas` in order (a tenant's own schema, then shared ones).
fn begin_sql_in(
    setting: &SettingName,
    tenant: TenantId,
    options: &TxOptions,
    search_path: Option<(&crate::SchemaName, &[Ident], bool)>,
    temp_last: bool,
) -> String {
    let mut sql = String::from("BEGIN");
    if let Some(level) = options.isolation {
        sql.push_str(" ISOLATION LEVEL ");
        sql.push_str(level.sql());
    }
    if options.read_only {
        sql.push_str(" READ ONLY");
    }
    // The options first, the binding after them: nothing in the options can
    // replace what the binding sets. Writing into a String cannot fail.
    for (name, value) in &options.settings {
        let _ = write!(sql, "; SET LOCAL {} = {}", name.as_str(), value.sql());
    }
    let _ = write!(sql, "; SET LOCAL {setting} = '{tenant}'");
    if let Some((schema, shared, as_schema_role)) = search_path {
        let _ = write!(sql, "; SET LOCAL search_path = {}", schema.sql());
        for name in shared {
            let _ = write!(sql, ", {}", name.sql());
        }
        // Temporary tables are searched last, so none can shadow a tenant table.
        sql.push_str(", pg_temp");
        if as_schema_role {
            let _ = write!(sql, "; SET LOCAL ROLE {}", schema.sql());
        }
    } else if temp_last {
        sql.push_str(TEMP_LAST_SQL);
    }
    sql
}

/// How a tenant is bound to a transaction: the setting the policies read
/// and the options of every `BEGIN`. Shared by the pools of `tenancy-sqlx`
/// and `tenancy-diesel`.
///
/// ```
/// use tenancy_core::rls::{IsolationLevel, SettingName, TenantBinding, TxOptions};
///
/// let binding = TenantBinding::default()
///     .with_setting(SettingName::new("myapp.tenant")?)
///     .with_tx_options(TxOptions::default().isolation(IsolationLevel::RepeatableRead));
/// assert_eq!(binding.setting().as_str(), "myapp.tenant");
/// # Ok::<(), tenancy_core::rls::InvalidName>(())
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TenantBinding {
    setting: SettingName,
    options: TxOptions,
    shared_schemas: Vec<Ident>,
    require_schema: bool,
    without_schema_roles: bool,
    /// Set by [`TenantBinding::trust_temporary_revoked`].
    temporary_revoked: bool,
}

impl TenantBinding {
    /// Uses another setting name; it must match the one in the policies.
    #[must_use]
    pub fn with_setting(mut self, setting: SettingName) -> Self {
        self.setting = setting;
        self
    }

    /// Options for every transaction (isolation, read-only, settings such
    /// as `statement_timeout`). They are written before the binding's own
    /// statements, and an option that names the tenant setting fails every
    /// `BEGIN` with [`TenantError::ReservedSetting`](crate::TenantError::ReservedSetting).
    #[must_use]
    pub fn with_tx_options(mut self, options: TxOptions) -> Self {
        self.options = options;
        self
    }

    /// Schemas searched after a tenant's own schema, for tenants that have
    /// one (schema per tenant): shared tables, extensions. Empty by default,
    /// so an unqualified name resolves only inside the tenant's schema
    /// (and `pg_catalog`), never to another schema's table of that name.
    ///
    /// ```
    /// use tenancy_core::rls::TenantBinding;
    /// use tenancy_core::{Placement, SchemaName, Tenant, TenantId, TenantSettings};
    ///
    /// let id = TenantId::new_v4();
    /// let tenant = Tenant::builder(id, "acme".parse()?)
    ///     .settings(TenantSettings::default().with_placement(
    ///         Placement::shared().with_schema(SchemaName::for_tenant(id)),
    ///     ))
    ///     .build();
    /// let sql = TenantBinding::default().with_shared_schemas(&["public"])?.begin_sql(&tenant)?;
    /// let schema = format!("\"tenant_{}\"", id.as_uuid().simple());
    /// assert!(sql.ends_with(&format!("SET LOCAL search_path = {schema}, \"public\", pg_temp; SET LOCAL ROLE {schema}")));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn with_shared_schemas(mut self, schemas: &[&str]) -> Result<Self, InvalidName> {
        self.shared_schemas = schemas
            .iter()
            .map(|name| {
                check_ident("schema name", name)?;
                Ident::new(name)
            })
            .collect::<Result<_, _>>()?;
        Ok(self)
    }

    /// Fails closed with [`TenantError::NoSchema`](crate::TenantError::NoSchema)
    /// for a tenant without its own schema: for databases where every
    /// tenant lives in a schema and the shared tables must never be used.
    #[must_use]
    pub fn require_schema(mut self) -> Self {
        self.require_schema = true;
        self
    }

    /// For tenants with their own schema, does **not** switch to the role of
    /// the schema's name (`SET LOCAL ROLE`). Then only `search_path` keeps
    /// a tenant in its schema, and a query that names another tenant's
    /// schema reads it: use this only where schemas were made without
    /// per-tenant roles, and plan to add them.
    #[must_use]
    pub fn without_schema_roles(mut self) -> Self {
        self.without_schema_roles = true;
        self
    }

    /// Leaves [`TEMP_LAST_SQL`] out of every `BEGIN` of tenants without
    /// their own schema: one statement less per transaction (about 10 to
    /// 20 µs of server time, 5% of a short transaction on a small machine).
    ///
    /// **Only where the application role cannot create temporary tables**:
    /// `TEMPORARY` revoked from it and from `PUBLIC`
    /// ([`revoke_temporary_sql`]), which `tenancy audit --app-role`
    /// checks (`app_role_temporary`). Otherwise a temporary table made by
    /// raw SQL outside the SDK, or left on a server connection behind a
    /// transaction pooler, shadows the tenant table of the same name.
    #[must_use]
    pub fn trust_temporary_revoked(mut self) -> Self {
        self.temporary_revoked = true;
        self
    }

    /// The setting that carries the tenant.
    pub fn setting(&self) -> &SettingName {
        &self.setting
    }

    /// The `BEGIN` message for `tenant` (see [`begin_sql`]), with
    /// `SET LOCAL search_path` and `SET LOCAL ROLE` when the tenant has its
    /// own schema (see [`with_shared_schemas`](Self::with_shared_schemas)); fails
    /// closed for a tenant that is not active.
    pub fn begin_sql(&self, tenant: &crate::Tenant) -> Result<String, crate::TenantError> {
        self.begin_sql_with(tenant, &self.options)
    }

    /// [`begin_sql`](Self::begin_sql) with other transaction options.
    pub fn begin_sql_with(
        &self,
        tenant: &crate::Tenant,
        options: &TxOptions,
    ) -> Result<String, crate::TenantError> {
        tenant.ensure_active()?;
        for (name, _) in &options.settings {
            if name.as_str() == self.setting.as_str() {
                return Err(crate::TenantError::ReservedSetting {
                    name: self.setting.as_str().to_owned(),
                });
            }
        }
        let schema = tenant.placement().schema();
        if self.require_schema && schema.is_none() {
            return Err(crate::TenantError::NoSchema { id: tenant.id() });
        }
        let search_path = schema.map(|schema| {
            let shared = self.shared_schemas.as_slice();
            (schema, shared, !self.without_schema_roles)
        });
        Ok(begin_sql_in(
            &self.setting,
            tenant.id(),
            options,
            search_path,
            !self.temporary_revoked,
        ))
    }
}

/// Migration SQL that puts a table under tenant row-level security.
///
/// ```
/// use tenancy_core::rls::TenantPolicy;
///
/// let policy = TenantPolicy::new("orders")?;
/// let sql = policy.enable_sql();
/// assert!(sql.contains("ALTER TABLE \"orders\" FORCE ROW LEVEL SECURITY;"));
/// assert!(sql.contains("USING (\"tenant_id\" = (SELECT nullif(current_setting('app.tenant_id', true), '')::uuid))"));
/// # Ok::<(), tenancy_core::rls::InvalidName>(())
/// ```
///
/// Use [`TenantPolicy::column_sql`] in `CREATE TABLE` and
/// [`TenantPolicy::enable_sql`] right after it; for a table that already has
/// rows and no tenant column, [`TenantPolicy::retrofit_sql`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantPolicy {
    table: Ident,
    column: Ident,
    setting: SettingName,
}

impl TenantPolicy {
    /// The policy name every generated policy uses.
    pub const POLICY_NAME: &'static str = "tenant_isolation";

    /// A policy for `table` (optionally `schema.table`), tenant column
    /// `tenant_id`, setting `app.tenant_id`.
    pub fn new(table: &str) -> Result<Self, InvalidName> {
        Ok(Self {
            table: Ident::new(table)?,
            column: Ident::new("tenant_id")?,
            setting: SettingName::default(),
        })
    }

    /// Uses another tenant column.
    pub fn tenant_column(mut self, column: &str) -> Result<Self, InvalidName> {
        check_ident("tenant column", column)?;
        self.column = Ident::new(column)?;
        Ok(self)
    }

    /// Uses another setting name.
    #[must_use]
    pub fn setting(mut self, setting: SettingName) -> Self {
        self.setting = setting;
        self
    }

    /// The table.
    pub fn table(&self) -> &Ident {
        &self.table
    }

    /// The tenant column.
    pub fn column(&self) -> &Ident {
        &self.column
    }

    /// The column definition for `CREATE TABLE`:
    /// `"tenant_id" uuid NOT NULL DEFAULT nullif(current_setting(..), '')::uuid`.
    ///
    /// With the default, inserts may leave the column out and get the
    /// transaction's tenant; without a tenant they fail the `NOT NULL` (or the
    /// policy's `WITH CHECK`).
    pub fn column_sql(&self) -> String {
        format!(
            "{} uuid NOT NULL DEFAULT {}",
            self.column.sql(),
            self.setting.tenant_expr()
        )
    }

    /// The condition the policy uses, also useful in views and functions.
    pub fn condition_sql(&self) -> String {
        format!("{} = {}", self.column.sql(), self.setting.policy_expr())
    }

    fn index_name(&self) -> String {
        quoted(&format!(
            "{}_{}_idx",
            self.table.unqualified(),
            self.column.as_str()
        ))
    }

    /// Puts an existing table (that has the tenant column) under RLS:
    /// column default and `NOT NULL`, an index leading with the column,
    /// `ENABLE` and `FORCE ROW LEVEL SECURITY`, and a `FOR ALL` policy with
    /// `USING` and `WITH CHECK`. Idempotent: safe to run again.
    pub fn enable_sql(&self) -> String {
        let (table, column, condition) =
            (self.table.sql(), self.column.sql(), self.condition_sql());
        let name = Self::POLICY_NAME;
        format!(
            "ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {default};\n\
             ALTER TABLE {table} ALTER COLUMN {column} SET NOT NULL;\n\
             CREATE INDEX IF NOT EXISTS {index} ON {table} ({column});\n\
             ALTER TABLE {table} ENABLE ROW LEVEL SECURITY;\n\
             ALTER TABLE {table} FORCE ROW LEVEL SECURITY;\n\
             DROP POLICY IF EXISTS {name} ON {table};\n\
             CREATE POLICY {name} ON {table} AS PERMISSIVE FOR ALL\n    \
             USING ({condition})\n    \
             WITH CHECK ({condition});\n",
            default = self.setting.tenant_expr(),
            index = self.index_name(),
        )
    }

    /// Takes a table back out of RLS (for down migrations).
    pub fn disable_sql(&self) -> String {
        let table = self.table.sql();
        format!(
            "DROP POLICY IF EXISTS {name} ON {table};\n\
             ALTER TABLE {table} NO FORCE ROW LEVEL SECURITY;\n\
             ALTER TABLE {table} DISABLE ROW LEVEL SECURITY;\n",
            name = Self::POLICY_NAME
        )
    }

    /// Retrofits a single-tenant table that has rows and no tenant column:
    /// adds the column (nullable), gives every existing row to `owner`, then
    /// enforces it with [`TenantPolicy::enable_sql`]. Run it in one
    /// transaction; on a big table, split the backfill into batches first.
    pub fn retrofit_sql(&self, owner: TenantId) -> String {
        let (table, column) = (self.table.sql(), self.column.sql());
        format!(
            "ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} uuid;\n\
             UPDATE {table} SET {column} = '{owner}' WHERE {column} IS NULL;\n{}",
            self.enable_sql()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn setting_names_are_validated() {
        for bad in [
            "",
            "tenant",
            "App.Tenant",
            "app.",
            ".x",
            "app.x y",
            "app.x;--",
            "a.b.c'",
        ] {
            assert!(SettingName::new(bad).is_err(), "{bad:?}");
        }
        assert!(SettingName::new("app.tenant_id").is_ok());
    }

    #[test]
    fn identifiers_are_validated_and_quoted() {
        assert_eq!(Ident::new("orders").unwrap().sql(), "\"orders\"");
        assert_eq!(
            Ident::new("billing.invoices").unwrap().sql(),
            "\"billing\".\"invoices\""
        );
        for bad in ["", "Orders", "1x", "a-b", "x\"; drop", "a.b.c"] {
            assert!(Ident::new(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn begin_sql_with_options_quotes_values() {
        let id = TenantId::new_v4();
        let opts = TxOptions::default()
            .isolation(IsolationLevel::Serializable)
            .read_only()
            .setting("statement_timeout", "5s")
            .unwrap()
            .setting("application_name", "it's")
            .unwrap();
        assert_eq!(
            begin_sql(&SettingName::default(), id, &opts),
            format!(
                "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY; SET LOCAL statement_timeout = '5s'; \
                 SET LOCAL application_name = 'it''s'; SET LOCAL app.tenant_id = '{id}'{TEMP_LAST_SQL}"
            )
        );
        assert!(
            TxOptions::default()
                .setting("statement_timeout", "a\\'")
                .is_err()
        );
    }

    #[test]
    fn options_cannot_name_identity_or_name_resolution() {
        for reserved in [
            "role",
            "session_authorization",
            "search_path",
            "row_security",
            "default_transaction_read_only",
            "temp_tablespaces",
            "Statement_Timeout",
            "statement_timeout; RESET ROLE",
        ] {
            let err = TxOptions::default().setting(reserved, "x").unwrap_err();
            assert!(
                err.to_string().contains("safe per transaction"),
                "{reserved}: {err}"
            );
        }
        assert!(TxOptions::default().setting("app.user_id", "7").is_ok());
    }

    #[test]
    fn options_cannot_set_the_tenant_setting() {
        let tenant = crate::Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build();
        let options = TxOptions::default().setting("app.tenant_id", "x").unwrap();
        let err = TenantBinding::default()
            .begin_sql_with(&tenant, &options)
            .unwrap_err();
        assert_eq!(
            err,
            crate::TenantError::ReservedSetting {
                name: "app.tenant_id".into()
            }
        );
        // Another custom setting is the application's own.
        let options = TxOptions::default().setting("app.user_id", "7").unwrap();
        let sql = TenantBinding::default()
            .begin_sql_with(&tenant, &options)
            .unwrap();
        assert!(
            sql.find("app.user_id").unwrap() < sql.find("app.tenant_id").unwrap(),
            "{sql}"
        );
    }

    #[test]
    fn temporary_tables_go_last_unless_trusted_revoked() {
        let tenant = crate::Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build();
        let sql = TenantBinding::default().begin_sql(&tenant).unwrap();
        assert!(sql.ends_with(TEMP_LAST_SQL), "{sql}");
        let sql = TenantBinding::default()
            .trust_temporary_revoked()
            .begin_sql(&tenant)
            .unwrap();
        assert!(!sql.contains("pg_temp"), "{sql}");
    }

    #[test]
    fn retrofit_adds_backfills_then_enforces() {
        let owner = TenantId::new_v4();
        let sql = TenantPolicy::new("legacy").unwrap().retrofit_sql(owner);
        let add = sql.find("ADD COLUMN").unwrap();
        let fill = sql.find(&format!("'{owner}'")).unwrap();
        let not_null = sql.find("SET NOT NULL").unwrap();
        assert!(add < fill && fill < not_null, "{sql}");
    }
}

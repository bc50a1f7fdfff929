//! [`TxOptions`]: what the `BEGIN` message sets besides the tenant.

use super::{InvalidName, SettingName, SettingValue};

/// Transaction options written into the `BEGIN` statement.
///
/// Settings are limited to those that are safe per transaction (see
/// [`TxOptions::setting`]): nothing here can replace the tenant, the role or
/// the `search_path` that the [`TenantBinding`](super::TenantBinding) sets, and the binding is
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
    pub(super) settings: Vec<(TxSetting, SettingValue)>,
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
            .map(|(name, value)| (name.as_str(), value.text()))
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
pub(super) enum TxSetting {
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

    pub(super) fn as_str(&self) -> &str {
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
    pub(super) fn sql(self) -> &'static str {
        match self {
            Self::ReadCommitted => "READ COMMITTED",
            Self::RepeatableRead => "REPEATABLE READ",
            Self::Serializable => "SERIALIZABLE",
        }
    }
}

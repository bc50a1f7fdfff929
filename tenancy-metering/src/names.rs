//! The names of the exported metrics, their labels, and of the metrics in
//! the usage rollups.

/// Counter of requests, labelled `tenant`, `route` and `status`
/// (`"2xx"`, `"4xx"`, ...).
pub const REQUESTS_TOTAL: &str = "tenancy_requests_total";
/// Histogram of request durations in seconds, labelled `tenant` and `route`.
pub const REQUEST_SECONDS: &str = "tenancy_request_duration_seconds";
/// Counter of database transactions, labelled `tenant`.
pub const DB_TRANSACTIONS_TOTAL: &str = "tenancy_db_transactions_total";
/// Histogram of database transaction durations in seconds, labelled `tenant`.
pub const DB_TRANSACTION_SECONDS: &str = "tenancy_db_transaction_duration_seconds";
/// Counter of rows written, labelled `tenant`.
pub const DB_ROWS_WRITTEN_TOTAL: &str = "tenancy_db_rows_written_total";

/// The tenant label: the tenant's id, or [`OTHER`](crate::OTHER).
pub const TENANT: &str = "tenant";
/// The route label: the route's pattern (axum's `MatchedPath`), or
/// `"unmatched"`.
pub const ROUTE: &str = "route";
/// The status class label.
pub const STATUS: &str = "status";

/// Rollup metric: requests.
pub const REQUESTS: &str = "requests";
/// Rollup metric: 4xx answers.
pub const CLIENT_ERRORS: &str = "client_errors";
/// Rollup metric: 5xx answers.
pub const SERVER_ERRORS: &str = "server_errors";
/// Rollup metric: microseconds spent serving requests.
pub const REQUEST_MICROS: &str = "request_micros";
/// Rollup metric: database transactions.
pub const TRANSACTIONS: &str = "transactions";
/// Rollup metric: microseconds spent in database transactions.
pub const TRANSACTION_MICROS: &str = "transaction_micros";
/// Rollup metric: rows written.
pub const ROWS_WRITTEN: &str = "rows_written";

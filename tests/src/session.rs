//! What the next user of a pooled connection inherits: one query that
//! reports it as text, and what a fresh connection of [`APP_ROLE`] reports,
//! for tests with any driver.
//!
//! ```no_run
//! # async fn demo(pool: sqlx::PgPool) {
//! use tenancy_testing::session::{fresh_session, session_state_sql};
//!
//! let mut conn = pool.acquire().await.unwrap();
//! let (state, _pid): (String, i32) = sqlx::query_as(sqlx::AssertSqlSafe(session_state_sql("app.tenant_id", "orders")))
//!     .fetch_one(&mut *conn)
//!     .await
//!     .unwrap();
//! assert_eq!(state, fresh_session(), "the pooled connection kept something");
//! # }
//! ```
//!
//! [`APP_ROLE`]: crate::APP_ROLE

use crate::APP_ROLE;

/// The query: one row, the columns `state` (text) and `pid` (the backend's
/// process id, int4). `state` joins, with `|`: the tenant `setting`, the
/// `search_path`, `default_transaction_read_only`, the channels listened to, advisory
/// locks held, temporary tables, named cursors (the driver's own unnamed
/// portal does not count), the current user, and the rows of `table` visible without
/// a tenant.
///
/// `setting` and `table` are the test's own names (a setting such as
/// `app.tenant_id`, a table name), written into the SQL as they are.
pub fn session_state_sql(setting: &str, table: &str) -> String {
    format!(
        "SELECT concat_ws('|', \
            'tenant=' || coalesce(current_setting('{setting}', true), ''), \
            'search_path=' || current_setting('search_path'), \
            'read_only=' || current_setting('default_transaction_read_only'), \
            'listening=' || (SELECT count(*) FROM pg_listening_channels()), \
            'advisory_locks=' || (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()), \
            'temp_tables=' || (SELECT count(*) FROM pg_class WHERE relnamespace = pg_my_temp_schema()), \
            'cursors=' || (SELECT count(*) FROM pg_cursors WHERE name <> ''), \
            'user=' || current_user, \
            'visible_rows=' || (SELECT count(*) FROM {table})) AS state, \
         pg_backend_pid() AS pid"
    )
}

/// What [`session_state_sql`] reports for a connection of [`APP_ROLE`] as
/// it was opened: no tenant, the default `search_path`, nothing held, no
/// rows visible.
pub fn fresh_session() -> String {
    format!(
        "tenant=|search_path=\"$user\", public|read_only=off|listening=0|advisory_locks=0|temp_tables=0|cursors=0|user={APP_ROLE}|visible_rows=0"
    )
}

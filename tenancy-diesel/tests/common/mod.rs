//! What the sync and async tests share: the session state the next user of
//! a pooled connection sees.
#![allow(dead_code, unreachable_pub)]

use diesel::QueryableByName;
use diesel::sql_types::{Integer, Text};

/// What the next user of the pool's one connection sees of its session:
/// tenant setting, search path, read-only default, `LISTEN`s, advisory
/// locks, who it is and how many rows it sees without a tenant.
#[derive(QueryableByName, Debug)]
pub struct SessionState {
    #[diesel(sql_type = Text)]
    pub state: String,
    #[diesel(sql_type = Integer)]
    pub pid: i32,
}

/// The query behind [`SessionState`].
pub const SESSION_STATE: &str = "SELECT concat_ws('|', coalesce(current_setting('app.tenant_id', true), ''), \
     current_setting('search_path'), current_setting('default_transaction_read_only'), \
     (SELECT count(*) FROM pg_listening_channels()), \
     (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid()), \
     current_user, (SELECT count(*) FROM orders)) AS state, pg_backend_pid() AS pid";

/// [`SessionState::state`] of a connection as it was opened.
pub const FRESH_SESSION: &str = "|\"$user\", public|off|0|0|tenancy_app|0";

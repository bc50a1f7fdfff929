//! Putting a connection's session back after raw SQL ran on it: the SQL
//! that `tenancy-sqlx` and `tenancy-diesel` send when a tenant transaction
//! on which raw SQL ran ends.
//!
//! Raw SQL inside a tenant transaction can leave state that outlives it and
//! would reach the next user of the pooled connection: a session-level
//! `SET` (of the tenant setting, `search_path`, `role`,
//! `default_transaction_read_only`, ...), temporary tables (which
//! PostgreSQL searches before `public`), cursors `WITH HOLD`, `LISTEN`s,
//! advisory locks, sequences' cached values, prepared statements.
//!
//! The reset runs **inside** the transaction, in the same message as its
//! `COMMIT` (or in a transaction of its own right after the `ROLLBACK`), so
//! a transaction pooler such as pgbouncer cannot send it to another server
//! connection than the one the raw SQL ran on. Deferred constraints are
//! checked before it, while the tenant is still set. Every message ends
//! with `BEGIN`: the driver still counts the transaction as open and ends
//! that empty one with its own `COMMIT` or `ROLLBACK`.
//!
//! Prepared statements are not dropped, since that would drop the driver's
//! statement cache: the SQL counts (or fails on) the ones raw SQL made with
//! `PREPARE`, and a connection that has any must be closed, not reused.
//!
//! ```
//! use tenancy_core::reset::{Leftovers, TxEnd, end_and_reset_sql};
//!
//! let sql = end_and_reset_sql(TxEnd::Commit, Leftovers::Count);
//! assert!(sql.starts_with("SET CONSTRAINTS ALL IMMEDIATE; "));
//! assert!(sql.contains("RESET ALL") && sql.ends_with("; COMMIT; BEGIN"));
//! ```

/// How the transaction ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TxEnd {
    /// `COMMIT`, after the reset.
    Commit,
    /// `ROLLBACK`, then the reset in a transaction of its own (a
    /// transaction that an error aborted runs nothing until it ends).
    Rollback,
}

/// What the reset does about what it cannot reset.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leftovers {
    /// Its last row counts the prepared statements raw SQL made (`PREPARE`):
    /// for drivers that read the results of a multi-statement message
    /// (sqlx). The caller closes the connection unless the count is 0.
    Count,
    /// It fails (before `COMMIT`) when raw SQL made prepared statements, or
    /// when the connection runs as a role that skips row-level security (a
    /// superuser's or administrator's connection swapped in through a
    /// `&mut`): for drivers that cannot read the results (diesel's
    /// `batch_execute`). The caller closes the connection when it fails.
    Fail,
}

/// The statements that reset the session (all of them run inside a
/// transaction, unlike `DISCARD ALL`).
macro_rules! reset {
    () => {
        "CLOSE ALL; RESET ALL; RESET ROLE; RESET SESSION AUTHORIZATION; DISCARD TEMP; \
         DISCARD SEQUENCES; UNLISTEN *; SELECT pg_advisory_unlock_all()"
    };
}

/// The count of [`Leftovers::Count`].
macro_rules! count {
    () => {
        "SELECT count(*) FROM pg_prepared_statements WHERE from_sql"
    };
}

/// The check of [`Leftovers::Fail`].
macro_rules! fail {
    () => {
        "DO $tenancy$ BEGIN \
         IF EXISTS (SELECT FROM pg_prepared_statements WHERE from_sql) THEN \
         RAISE EXCEPTION 'tenancy: raw SQL left prepared statements on this connection; it is closed'; END IF; \
         IF (SELECT rolsuper OR rolbypassrls FROM pg_roles WHERE rolname = session_user) THEN \
         RAISE EXCEPTION 'tenancy: this connection skips row-level security; it is closed'; END IF; \
         END $tenancy$"
    };
}

/// The message that ends a tenant transaction on which raw SQL ran and
/// resets the session, in one round trip (see the [module](self) docs).
pub const fn end_and_reset_sql(end: TxEnd, leftovers: Leftovers) -> &'static str {
    match (end, leftovers) {
        (TxEnd::Commit, Leftovers::Count) => concat!(
            "SET CONSTRAINTS ALL IMMEDIATE; ",
            reset!(),
            "; ",
            count!(),
            "; COMMIT; BEGIN"
        ),
        (TxEnd::Commit, Leftovers::Fail) => concat!(
            "SET CONSTRAINTS ALL IMMEDIATE; ",
            reset!(),
            "; ",
            fail!(),
            "; COMMIT; BEGIN"
        ),
        (TxEnd::Rollback, Leftovers::Count) => concat!(
            "ROLLBACK; BEGIN; ",
            reset!(),
            "; ",
            count!(),
            "; COMMIT; BEGIN"
        ),
        (TxEnd::Rollback, Leftovers::Fail) => concat!(
            "ROLLBACK; BEGIN; ",
            reset!(),
            "; ",
            fail!(),
            "; COMMIT; BEGIN"
        ),
    }
}

/// The reset alone, outside any transaction, its last row the count of
/// [`Leftovers::Count`]: for a session-level connection that goes back to
/// the pool.
pub const SESSION_RESET_SQL: &str = concat!(reset!(), "; ", count!());

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_end_resets_then_reopens() {
        for end in [TxEnd::Commit, TxEnd::Rollback] {
            for leftovers in [Leftovers::Count, Leftovers::Fail] {
                let sql = end_and_reset_sql(end, leftovers);
                assert!(sql.contains(reset!()), "{sql}");
                assert!(sql.ends_with("; COMMIT; BEGIN"), "{sql}");
                let reset_at = sql.find("RESET ALL").unwrap_or(0);
                match end {
                    // The reset before the COMMIT, inside the transaction.
                    TxEnd::Commit => assert!(reset_at < sql.find("COMMIT").unwrap_or(0)),
                    TxEnd::Rollback => assert!(sql.starts_with("ROLLBACK; BEGIN; ")),
                }
            }
        }
    }
}

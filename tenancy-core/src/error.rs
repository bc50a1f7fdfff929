//! The error type of `tenancy-core`.

/// Everything that can go wrong when naming, resolving or using a tenant.
///
/// Every message says what happened and what to do about it. The type is
/// `#[non_exhaustive]`: match the variants you handle and keep a wildcard arm.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TenantError {
    /// Code that needs a tenant ran outside any tenant scope.
    #[error(
        "no tenant in the current context: run this inside `TenantContext::scope` \
         (the tenancy-tower layer does it for every request), use `.with_tenant(..)` \
         or `tenancy_core::spawn` for spawned tasks, or pass a tenant explicitly"
    )]
    Missing,

    /// Code asked for the current tenant with one id type while a tenant
    /// with another id type was current: two parts of the application are
    /// configured with different [`TenantIdType`](crate::TenantIdType)s.
    #[error(
        "the current tenant has a {found} id, but this code asked for a tenant with a {expected} id: \
         use one tenant id type in the whole application"
    )]
    WrongIdType {
        /// The id type the code asked for.
        expected: &'static str,
        /// The id type of the current tenant.
        found: &'static str,
    },

    /// A string or value that should have been a tenant id is not one of
    /// the application's id type.
    #[error("invalid tenant id {input:?}: {reason}; {expected}")]
    InvalidId {
        /// The rejected input (shortened when it is long).
        input: String,
        /// Which rule the input broke.
        reason: String,
        /// What a valid id looks like, such as "a tenant id is a UUID such
        /// as ...".
        expected: &'static str,
    },

    /// A string that should have been a tenant slug is not one.
    #[error(
        "invalid tenant slug {input:?}: {reason}; a slug is 1 to 63 characters of a-z, 0-9 and '-', not starting or ending with '-'"
    )]
    InvalidSlug {
        /// The rejected input (shortened when it is long).
        input: String,
        /// Which rule the input broke.
        reason: &'static str,
    },

    /// A relative storage path tried to leave the tenant's directory.
    #[error(
        "invalid tenant storage path {path:?}: {reason}; give a relative path made of plain names"
    )]
    InvalidPath {
        /// The rejected path (shortened when it is long).
        path: String,
        /// Which rule the path broke.
        reason: &'static str,
    },

    /// The tenant exists but is not active, so no work may run for it.
    #[error("tenant {id} is {status}: no work may run for it until it is active again")]
    Inactive {
        /// The tenant's id.
        id: String,
        /// Its current status, in words.
        status: &'static str,
    },

    /// A pool that runs every tenant in its own schema was given a tenant
    /// without one.
    #[error(
        "tenant {id} has no schema, but this pool requires one (schema per tenant): \
         provision the tenant's schema and record it in the tenant's placement"
    )]
    NoSchema {
        /// The tenant's id.
        id: String,
    },

    /// The tenant is sealed (its placement says so): its transactions run
    /// only on connections that log in as its own role, never on the
    /// shared application role's.
    #[error(
        "tenant {id} is sealed: its transactions must log in as its own role \
         (a RoutedPool with sealed logins), not as the shared application role"
    )]
    Sealed {
        /// The tenant's id.
        id: String,
    },

    /// A pool that logs in as a sealed tenant's role was asked to bind a
    /// tenant that is not sealed.
    #[error("tenant {id} is not sealed, but this pool logs in as a sealed tenant's role")]
    NotSealed {
        /// The tenant's id.
        id: String,
    },

    /// Transaction options tried to set the setting that carries the
    /// tenant: only the tenant binding sets it.
    #[error(
        "the transaction options set {name:?}, the setting that carries the tenant: \
         only the tenant binding sets it; remove it from the options"
    )]
    ReservedSetting {
        /// The setting.
        name: String,
    },

    /// Something bound to one tenant (a scoped query, a job) was about to
    /// run for another: a query bound to tenant A in tenant B's
    /// transaction, a job of tenant A handed tenant B. Nothing ran.
    #[error(
        "tenant mismatch: bound to tenant {expected} but about to run for tenant {found}; \
         bind the query to the transaction's tenant (`.for_tenant(tx.tenant())`), \
         or look a job's tenant up by the id the job carries"
    )]
    Mismatch {
        /// The id of the tenant it is bound to.
        expected: String,
        /// The id of the tenant it was about to run for.
        found: String,
    },
}

/// Shortens untrusted input before it goes into an error message, so a
/// megabyte header cannot become a megabyte log line.
pub(crate) fn shorten(input: &str) -> String {
    const MAX: usize = 64;
    if input.len() <= MAX {
        return input.to_owned();
    }
    let mut end = MAX;
    while !input.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &input[..end])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorten_keeps_short_input_and_cuts_long_input_on_a_char_boundary() {
        assert_eq!(shorten("abc"), "abc");
        let long = "é".repeat(100);
        let short = shorten(&long);
        assert!(short.len() <= 64 + '…'.len_utf8());
        assert!(short.ends_with('…'));
    }

    #[test]
    fn missing_says_what_to_do() {
        let msg = TenantError::Missing.to_string();
        assert!(msg.contains("TenantContext::scope"), "{msg}");
    }
}

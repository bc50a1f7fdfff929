//! [`AdminAccess`]: who opens an admin session, why, over what.

use tenancy_core::{TenantId, TenantIdType};

use crate::{Error, Result};

/// What an admin session states before it reads anything: the actor (a
/// staff member), the reason (a ticket), the scope (one tenant, or every
/// tenant for a report), and whether it may write.
///
/// ```
/// use tenancy_core::TenantId;
/// use tenancy_sqlx::admin::AdminAccess;
///
/// let acme = TenantId::new_v4();
/// let access = AdminAccess::new("jane@support", "ticket 4711: fix a wrong price")?
///     .tenant(&acme)
///     .allow_writes();
/// assert!(access.writes());
/// assert!(AdminAccess::new("", "a reason long enough").is_err());
/// assert!(AdminAccess::new("jane@support", "because").is_err());
/// # Ok::<(), tenancy_sqlx::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminAccess {
    actor: String,
    reason: String,
    tenant: Option<String>,
    writes: bool,
}

/// The shortest reason accepted (the database checks it too).
const MIN_REASON: usize = 10;

impl AdminAccess {
    /// A read-only session over every tenant, for `actor`, because of
    /// `reason` (at least 10 characters: a ticket, not "because").
    pub fn new(actor: &str, reason: &str) -> Result<Self> {
        let actor = actor.trim();
        let reason = reason.trim();
        if actor.is_empty() {
            return Err(Error::AdminAccess("an actor (who is looking)"));
        }
        if reason.chars().count() < MIN_REASON {
            return Err(Error::AdminAccess(
                "a reason of at least 10 characters (why: a ticket, an incident)",
            ));
        }
        Ok(Self {
            actor: actor.to_owned(),
            reason: reason.to_owned(),
            tenant: None,
            writes: false,
        })
    }

    /// Only this tenant's rows.
    #[must_use]
    pub fn tenant<K: TenantIdType>(mut self, id: &TenantId<K>) -> Self {
        self.tenant = Some(id.to_string());
        self
    }

    /// Allows writes (each written row is trailed).
    #[must_use]
    pub fn allow_writes(mut self) -> Self {
        self.writes = true;
        self
    }

    /// Who.
    pub fn actor(&self) -> &str {
        &self.actor
    }

    /// Why.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The one tenant, as text, or `None` for every tenant.
    pub fn scope(&self) -> Option<&str> {
        self.tenant.as_deref()
    }

    /// Whether it may write.
    pub fn writes(&self) -> bool {
        self.writes
    }
}

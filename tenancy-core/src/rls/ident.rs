//! [`Ident`]: identifiers validated to be written into SQL, and why a name
//! was refused ([`InvalidName`]).

use std::fmt;

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
/// The longest identifier PostgreSQL keeps: longer ones are cut to 63
/// bytes without an error, so two long names can silently become one.
pub const MAX_IDENT_LEN: usize = 63;

/// `name` as PostgreSQL will keep it, for names the SDK derives (index and
/// constraint names): unchanged when it fits in [`MAX_IDENT_LEN`] bytes,
/// otherwise cut and ended with a hash of the whole name, so two long
/// names that share a prefix stay two names.
///
/// ```
/// use tenancy_core::rls::{MAX_IDENT_LEN, bounded_name};
///
/// assert_eq!(bounded_name("orders_tenant_id_idx"), "orders_tenant_id_idx");
/// let a = bounded_name(&format!("{}_a_tenant_id_idx", "x".repeat(60)));
/// let b = bounded_name(&format!("{}_b_tenant_id_idx", "x".repeat(60)));
/// assert!(a.len() <= MAX_IDENT_LEN && b.len() <= MAX_IDENT_LEN);
/// assert_ne!(a, b);
/// ```
pub fn bounded_name(name: &str) -> String {
    if name.len() <= MAX_IDENT_LEN {
        return name.to_owned();
    }
    let hash = format!("_{:08x}", crate::id_type::fnv1a(name.as_bytes()));
    let mut end = MAX_IDENT_LEN - hash.len();
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{hash}", &name[..end])
}

pub(super) fn quoted(ident: &str) -> String {
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

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

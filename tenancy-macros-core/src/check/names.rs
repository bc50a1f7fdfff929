//! Identifiers as PostgreSQL folds them.

use sqlparser::ast::{Ident, ObjectName, ObjectNamePart};

/// An identifier as PostgreSQL stores it: unquoted ones fold to lower case.
pub(crate) fn fold(ident: &Ident) -> String {
    if ident.quote_style.is_some() {
        ident.value.clone()
    } else {
        ident.value.to_lowercase()
    }
}

/// The parts of a dotted name, folded; `None` if a part is not a plain
/// identifier.
pub(crate) fn parts(name: &ObjectName) -> Option<Vec<String>> {
    name.0
        .iter()
        .map(|part| match part {
            ObjectNamePart::Identifier(ident) => Some(fold(ident)),
            ObjectNamePart::Function(_) => None,
        })
        .collect()
}

/// The last part of a dotted name (a column in `INSERT (a, b)`), folded.
pub(crate) fn last(name: &ObjectName) -> Option<String> {
    parts(name).and_then(|mut p| p.pop())
}

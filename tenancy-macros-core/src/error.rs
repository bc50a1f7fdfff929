//! [`CheckError`]: why a statement was refused.

use std::fmt;

use sqlparser::tokenizer::Location;

/// Why a statement was refused, and where in the SQL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckError {
    message: String,
    at: Option<(u64, u64)>,
}

impl CheckError {
    /// A refusal with no particular place in the SQL.
    pub(crate) fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            at: None,
        }
    }

    /// A refusal about the SQL at `at`.
    pub(crate) fn at(message: impl Into<String>, at: Location) -> Self {
        Self {
            message: message.into(),
            at: (at.line > 0).then_some((at.line, at.column)),
        }
    }

    /// What is wrong, and how to fix it.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The line and column (1-based) in the SQL that the error is about.
    pub fn location(&self) -> Option<(u64, u64)> {
        self.at
    }
}

impl fmt::Display for CheckError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some((line, column)) = self.at {
            write!(f, " (SQL line {line}, column {column})")?;
        }
        Ok(())
    }
}

impl std::error::Error for CheckError {}

//! The SQL sqlx receives: the caller's text, with manifest tables
//! schema-qualified and `$tenant` numbered. Edits go by token position, so
//! string literals, comments and dollar-quoted text are never touched.

use sqlparser::dialect::PostgreSqlDialect;
use sqlparser::tokenizer::{Location, Token, Tokenizer};

use crate::check::{Qualification, TENANT_PARAM};
use crate::manifest::quote_ident;
use crate::{CheckError, ScopedSql};

/// One edit: replace `len` bytes at byte `at` with `text`.
struct Edit {
    at: usize,
    len: usize,
    text: String,
}

/// Where `$tenant` appears in the SQL; refuses unknown placeholders and
/// `$n` beyond the caller's arguments.
pub(crate) struct Placeholders {
    tenant: Vec<Location>,
    args: usize,
}

pub(crate) fn placeholders(sql: &str, args: usize) -> Result<Placeholders, CheckError> {
    let tokens = Tokenizer::new(&PostgreSqlDialect {}, sql)
        .tokenize_with_location()
        .map_err(|e| CheckError::new(format!("cannot parse the SQL: {e}")))?;
    let mut tenant = Vec::new();
    for token in &tokens {
        let Token::Placeholder(name) = &token.token else {
            continue;
        };
        let Some(rest) = name.strip_prefix('$') else {
            continue;
        };
        let at = token.span.start;
        if name == TENANT_PARAM {
            tenant.push(at);
        } else if let Ok(n) = rest.parse::<usize>() {
            if n == 0 || n > args {
                return Err(CheckError::at(
                    format!("`{name}` has no argument: the macro was given {args}"),
                    at,
                ));
            }
        } else {
            return Err(CheckError::at(
                format!(
                    "unknown placeholder `{name}`: use `$1`, `$2`, ... for arguments and `{TENANT_PARAM}` for the tenant"
                ),
                at,
            ));
        }
    }
    Ok(Placeholders { tenant, args })
}

/// Applies the edits: `$tenant` numbered, manifest tables qualified.
pub(crate) fn rewrite(
    sql: &str,
    placeholders: &Placeholders,
    qualify: &[Qualification],
) -> Result<ScopedSql, CheckError> {
    let offsets = Offsets::new(sql);
    let tenant_param = placeholders.args + 1;
    let mut edits = Vec::new();
    for at in &placeholders.tenant {
        edits.push(Edit {
            at: offsets.byte(*at)?,
            len: TENANT_PARAM.len(),
            text: format!("${tenant_param}"),
        });
    }
    for (at, schema) in qualify {
        edits.push(Edit {
            at: offsets.byte(*at)?,
            len: 0,
            text: format!("{}.", quote_ident(schema)),
        });
    }
    edits.sort_by_key(|e| e.at);
    let mut out = String::with_capacity(sql.len() + 16 * edits.len());
    let mut from = 0;
    for edit in edits {
        out.push_str(&sql[from..edit.at]);
        out.push_str(&edit.text);
        from = edit.at + edit.len;
    }
    out.push_str(&sql[from..]);
    Ok(ScopedSql {
        sql: out,
        tenant_param: (!placeholders.tenant.is_empty()).then_some(tenant_param),
        id_type: None,
    })
}

/// Byte offsets of the tokenizer's 1-based (line, column in characters).
struct Offsets<'a> {
    sql: &'a str,
    line_starts: Vec<usize>,
}

impl<'a> Offsets<'a> {
    fn new(sql: &'a str) -> Self {
        let mut line_starts = vec![0];
        line_starts.extend(sql.match_indices('\n').map(|(i, _)| i + 1));
        Self { sql, line_starts }
    }

    fn byte(&self, at: Location) -> Result<usize, CheckError> {
        let lost = || CheckError::new("cannot locate a token in the SQL");
        let line = usize::try_from(at.line).map_err(|_| lost())?;
        let column = usize::try_from(at.column).map_err(|_| lost())?;
        let start = *self
            .line_starts
            .get(line.checked_sub(1).ok_or_else(lost)?)
            .ok_or_else(lost)?;
        let rest = &self.sql[start..];
        let skip = column.checked_sub(1).ok_or_else(lost)?;
        rest.char_indices()
            .map(|(i, _)| i)
            .chain(std::iter::once(rest.len()))
            .nth(skip)
            .map(|i| start + i)
            .ok_or_else(lost)
    }
}

//! What a statement's FROM clauses bring into scope: [`Ref`]s, grouped in
//! [`Env`]s, one per query level.

use sqlparser::tokenizer::Location;

/// What a name in a FROM clause stands for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Source {
    /// A tenant table, with its tenant column.
    Tenant { column: String },
    /// A table every tenant may read.
    Shared,
    /// A CTE, a derived table, a function or `EXCLUDED`: checked where it
    /// is defined, not a tenant table itself.
    Other,
}

/// One name in scope.
#[derive(Debug, Clone)]
pub(crate) struct Ref {
    /// The name column references use: the alias, or the table's name.
    pub(crate) binding: String,
    /// The table's name; empty for what is not a table.
    pub(crate) table: String,
    /// `(schema, table)` of an unaliased table, for `schema.table.column`.
    pub(crate) unaliased: Option<(String, String)>,
    pub(crate) source: Source,
    /// Whether every row it contributes is proven to be the tenant's.
    pub(crate) proven: bool,
    /// The table and alias, as the error shows them.
    pub(crate) shown: String,
    pub(crate) at: Location,
    /// Whether it sits on the nullable side of an outer join (the fix then
    /// goes into its own ON clause).
    pub(crate) nullable: bool,
}

impl Ref {
    /// A name that is not a table: a CTE, a derived table, a function.
    pub(crate) fn other(binding: String, at: Location) -> Self {
        Self {
            shown: format!("`{binding}`"),
            binding,
            table: String::new(),
            unaliased: None,
            source: Source::Other,
            proven: false,
            at,
            nullable: false,
        }
    }

    /// The tenant column, for a tenant table.
    pub(crate) fn tenant_column(&self) -> Option<&str> {
        match &self.source {
            Source::Tenant { column } => Some(column),
            Source::Shared | Source::Other => None,
        }
    }

    /// Whether it is a tenant table not (yet) proven to be filtered.
    pub(crate) fn unproven(&self) -> bool {
        self.tenant_column().is_some() && !self.proven
    }

    /// Whether `qualifier` (as in `qualifier.column`) names it.
    fn named(&self, qualifier: &[String]) -> bool {
        match qualifier {
            [name] => self.binding == *name,
            [schema, table] => self
                .unaliased
                .as_ref()
                .is_some_and(|(s, t)| s == schema && t == table),
            _ => false,
        }
    }
}

/// The names visible at one query level, and the levels around it.
#[derive(Debug)]
pub(crate) struct Env<'a> {
    pub(crate) refs: Vec<Ref>,
    pub(crate) ctes: Vec<String>,
    pub(crate) parent: Option<&'a Env<'a>>,
}

impl<'a> Env<'a> {
    pub(crate) fn new(parent: Option<&'a Env<'a>>) -> Self {
        Self {
            refs: Vec::new(),
            ctes: Vec::new(),
            parent,
        }
    }

    /// Whether `name` is a CTE visible here.
    pub(crate) fn is_cte(&self, name: &str) -> bool {
        self.ctes.iter().any(|c| c == name) || self.parent.is_some_and(|p| p.is_cte(name))
    }

    /// The tenant table that the outer reference `qualifier.column` reads
    /// the tenant column of, if that table is proven: `Some(true)`. A name
    /// found but not a proven tenant column: `Some(false)`.
    pub(crate) fn outer_tenant_column(&self, qualifier: &[String], column: &str) -> Option<bool> {
        match self.refs.iter().find(|r| r.named(qualifier)) {
            Some(r) => Some(r.proven && r.tenant_column() == Some(column)),
            None => self
                .parent
                .and_then(|p| p.outer_tenant_column(qualifier, column)),
        }
    }
}

/// The position of the ref that `qualifier` names among `refs`.
pub(crate) fn find(refs: &[Ref], qualifier: &[String]) -> Option<usize> {
    refs.iter().position(|r| r.named(qualifier))
}

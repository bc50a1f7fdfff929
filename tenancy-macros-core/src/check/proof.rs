//! The proof that a reference is the tenant's: its tenant column equated
//! with `$tenant`, or with the tenant column of an already proven
//! reference, in a top-level conjunct of a condition that filters it.

use sqlparser::ast::{BinaryOperator, Expr, Value};

use super::names::fold;
use super::scope::{Env, Ref, find};

/// The placeholder the tenant is bound to.
pub(crate) const TENANT_PARAM: &str = "$tenant";

/// A condition and the references whose rows it filters: `WHERE` filters
/// every reference of its FROM clause; an inner join's `ON` both sides; an
/// outer join's `ON` only its nullable side.
#[derive(Debug)]
pub(crate) struct Pool<'s> {
    pub(crate) conjuncts: Vec<&'s Expr>,
    pub(crate) targets: Vec<usize>,
}

/// `JOIN ... USING (columns)`: the right side's columns equal the left
/// side's merged columns, which are its leftmost table's.
#[derive(Debug)]
pub(crate) struct UsingEq {
    pub(crate) left: Option<usize>,
    pub(crate) right: Option<usize>,
    pub(crate) columns: Vec<String>,
    pub(crate) targets: Vec<usize>,
}

/// The top-level conjuncts of `expr`: `a AND (b AND c)` gives `a, b, c`.
/// An `OR` is one conjunct, and proves nothing.
pub(crate) fn conjuncts(expr: &Expr) -> Vec<&Expr> {
    match expr {
        Expr::BinaryOp {
            left,
            op: BinaryOperator::And,
            right,
        } => {
            let mut all = conjuncts(left);
            all.extend(conjuncts(right));
            all
        }
        Expr::Nested(inner) => conjuncts(inner),
        other => vec![other],
    }
}

/// Whether `expr` is `$tenant` (possibly cast: `$tenant::uuid`).
pub(crate) fn is_tenant_param(expr: &Expr) -> bool {
    match expr {
        Expr::Value(v) => matches!(&v.value, Value::Placeholder(p) if p == TENANT_PARAM),
        Expr::Cast { expr, .. } | Expr::Nested(expr) => is_tenant_param(expr),
        _ => false,
    }
}

/// What a column expression reads.
enum Column {
    /// The tenant column of the local reference at this index.
    Local(usize),
    /// The tenant column of a proven reference of an outer query.
    ProvenOuter,
}

/// The tenant column `expr` reads, if it reads one. An unqualified column
/// counts only when the FROM clause has a single reference.
fn column(expr: &Expr, refs: &[Ref], parent: Option<&Env<'_>>) -> Option<Column> {
    match expr {
        Expr::Nested(inner) => column(inner, refs, parent),
        Expr::Identifier(ident) => {
            let name = fold(ident);
            (refs.len() == 1 && refs[0].tenant_column() == Some(name.as_str()))
                .then_some(Column::Local(0))
        }
        Expr::CompoundIdentifier(idents) if idents.len() >= 2 => {
            let folded: Vec<String> = idents.iter().map(fold).collect();
            let (name, qualifier) = folded.split_last()?;
            if let Some(i) = find(refs, qualifier) {
                return (refs[i].tenant_column() == Some(name.as_str()))
                    .then_some(Column::Local(i));
            }
            parent
                .and_then(|p| p.outer_tenant_column(qualifier, name))
                .and_then(|proven| proven.then_some(Column::ProvenOuter))
        }
        _ => None,
    }
}

/// Marks every reference the conditions prove, until nothing changes.
pub(crate) fn prove(
    refs: &mut [Ref],
    parent: Option<&Env<'_>>,
    pools: &[Pool<'_>],
    usings: &[UsingEq],
) {
    loop {
        let mut changed = false;
        for pool in pools {
            for conjunct in &pool.conjuncts {
                let Expr::BinaryOp {
                    left,
                    op: BinaryOperator::Eq,
                    right,
                } = conjunct
                else {
                    continue;
                };
                for (this, other) in [(left, right), (right, left)] {
                    let Some(Column::Local(i)) = column(this, refs, parent) else {
                        continue;
                    };
                    if refs[i].proven || !pool.targets.contains(&i) {
                        continue;
                    }
                    let proven = is_tenant_param(other)
                        || match column(other, refs, parent) {
                            Some(Column::Local(j)) => refs[j].proven,
                            Some(Column::ProvenOuter) => true,
                            None => false,
                        };
                    if proven {
                        refs[i].proven = true;
                        changed = true;
                    }
                }
            }
        }
        for using in usings {
            let (Some(l), Some(r)) = (using.left, using.right) else {
                continue;
            };
            let column = refs[l].tenant_column();
            if column.is_none()
                || column != refs[r].tenant_column()
                || !using.columns.iter().any(|c| Some(c.as_str()) == column)
            {
                continue;
            }
            for (this, other) in [(r, l), (l, r)] {
                if !refs[this].proven && refs[other].proven && using.targets.contains(&this) {
                    refs[this].proven = true;
                    changed = true;
                }
            }
        }
        if !changed {
            return;
        }
    }
}

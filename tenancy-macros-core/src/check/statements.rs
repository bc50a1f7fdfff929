//! The writes: INSERT, UPDATE, DELETE and MERGE.

use sqlparser::ast::{
    Assignment, AssignmentTarget, ConflictTarget, Delete, FromTable, Insert, Merge, MergeAction,
    MergeClauseKind, MergeInsertKind, MergeUpdateKind, ObjectName, OnConflictAction, OnInsert,
    SelectItem, SetExpr, Spanned, Statement, TableFactor, TableObject, Update, UpdateTableFromKind,
};

use super::proof::{Pool, conjuncts};
use super::scope::{Env, Ref};
use super::{Checker, Frame, VisitDyn, is_tenant_param, names};
use crate::CheckError;

impl Checker<'_> {
    /// A write, at the top or in a data-modifying CTE.
    pub(super) fn dml(
        &mut self,
        statement: &Statement,
        env: Option<&Env<'_>>,
    ) -> Result<(), CheckError> {
        let root = Env::new(None);
        let env = env.unwrap_or(&root);
        match statement {
            Statement::Insert(insert) => self.insert(insert, env),
            Statement::Update(update) => self.update(update, env),
            Statement::Delete(delete) => self.delete(delete, env),
            Statement::Merge(merge) => self.merge(merge, env),
            other => Err(CheckError::at(
                "the tenancy macros take one SELECT, INSERT, UPDATE, DELETE or MERGE statement",
                other.span().start,
            )),
        }
    }

    fn update(&mut self, update: &Update, env: &Env<'_>) -> Result<(), CheckError> {
        if !update.table.joins.is_empty() {
            return Err(CheckError::at(
                "UPDATE takes one table: put the others into FROM",
                update.table.span().start,
            ));
        }
        let mut frame = Frame::default();
        self.target(&update.table.relation, env, &mut frame)?;
        if let Some(UpdateTableFromKind::AfterSet(from) | UpdateTableFromKind::BeforeSet(from)) =
            &update.from
        {
            for item in from {
                self.join_tree(item, env, &mut frame)?;
            }
        }
        where_pool(&mut frame, update.selection.as_ref());
        refuse_tenant_writes(&update.assignments, &frame.refs[0])?;
        self.finish(
            frame,
            env,
            &[&update.assignments, &update.selection, &update.returning],
        )
    }

    fn delete(&mut self, delete: &Delete, env: &Env<'_>) -> Result<(), CheckError> {
        let (FromTable::WithFromKeyword(from) | FromTable::WithoutKeyword(from)) = &delete.from;
        let [target] = from.as_slice() else {
            return Err(CheckError::new(
                "DELETE takes one table: put the others into USING",
            ));
        };
        if !delete.tables.is_empty() || !target.joins.is_empty() {
            return Err(CheckError::at(
                "DELETE takes one table: put the others into USING",
                target.span().start,
            ));
        }
        let mut frame = Frame::default();
        self.target(&target.relation, env, &mut frame)?;
        for item in delete.using.iter().flatten() {
            self.join_tree(item, env, &mut frame)?;
        }
        where_pool(&mut frame, delete.selection.as_ref());
        self.finish(frame, env, &[&delete.selection, &delete.returning])
    }

    fn insert(&mut self, insert: &Insert, env: &Env<'_>) -> Result<(), CheckError> {
        let TableObject::TableName(name) = &insert.table else {
            return Err(CheckError::at(
                "INSERT INTO a table function is not supported",
                insert.table.span().start,
            ));
        };
        let mut target = self.table(name, insert.table_alias.as_ref().map(|a| &a.alias), env)?;
        if !insert.assignments.is_empty() {
            return Err(CheckError::at(
                "`INSERT ... SET` is not PostgreSQL: use `INSERT ... (columns) VALUES`",
                name.span().start,
            ));
        }
        let columns: Vec<String> = insert.columns.iter().filter_map(names::last).collect();
        if let Some(column) = target.tenant_column() {
            if columns.is_empty() {
                return Err(CheckError::at(
                    format!(
                        "name the columns of `{}`: `INSERT INTO {} (..., {column}) VALUES (..., $tenant)` (or leave `{column}` out for its default)",
                        target.binding, target.binding
                    ),
                    name.span().start,
                ));
            }
            if let (Some(i), Some(source)) =
                (columns.iter().position(|c| c == column), &insert.source)
            {
                tenant_values(&source.body, i, &target, column)?;
            }
        }
        if let Some(source) = &insert.source {
            self.query(source, Some(env))?;
        }
        // Every row written is the tenant's: checked above, and by the
        // policy's WITH CHECK.
        target.proven = true;
        let mut refs = vec![target];
        if let Some(OnInsert::OnConflict(conflict)) = &insert.on {
            if let OnConflictAction::DoUpdate(update) = &conflict.action {
                if let Some(column) = refs[0].tenant_column() {
                    let covered = matches!(&conflict.conflict_target, Some(ConflictTarget::Columns { columns, .. }) if columns.iter().any(|c| names::fold(c) == column));
                    if !covered {
                        return Err(CheckError::at(
                            format!(
                                "ON CONFLICT ... DO UPDATE on `{}` must name `{column}` among the conflict columns (`ON CONFLICT ({column}, ...)`): otherwise the conflicting row may be another tenant's",
                                refs[0].binding
                            ),
                            conflict.span().start,
                        ));
                    }
                }
                refuse_tenant_writes(&update.assignments, &refs[0])?;
            }
            refs.push(Ref::other("excluded".to_owned(), conflict.span().start));
        } else if insert.on.is_some() {
            return Err(CheckError::at(
                "`ON DUPLICATE KEY` is not PostgreSQL: use `ON CONFLICT`",
                name.span().start,
            ));
        }
        let local = Env {
            refs,
            ctes: Vec::new(),
            parent: Some(env),
        };
        self.nested(&insert.on, &local)?;
        self.nested(&insert.returning, &local)
    }

    fn merge(&mut self, merge: &Merge, env: &Env<'_>) -> Result<(), CheckError> {
        let mut frame = Frame::default();
        self.target(&merge.table, env, &mut frame)?;
        let (source, _) = self.factor(&merge.source, env, &mut frame)?;
        let inserts = merge.clauses.iter().any(|c| {
            matches!(
                c.clause_kind,
                MergeClauseKind::NotMatched | MergeClauseKind::NotMatchedByTarget
            )
        });
        if merge
            .clauses
            .iter()
            .any(|c| c.clause_kind == MergeClauseKind::NotMatchedBySource)
        {
            return Err(CheckError::at(
                "`WHEN NOT MATCHED BY SOURCE` is not supported: PostgreSQL 15 has no such clause",
                merge.span().start,
            ));
        }
        // ON filters the target rows MERGE touches; it filters the source
        // only when no unmatched source row is inserted.
        let mut targets = vec![0];
        if !inserts {
            targets.extend(source);
        }
        frame.pools.push(Pool {
            conjuncts: conjuncts(&merge.on),
            targets,
        });
        let column = frame.refs[0].tenant_column().map(str::to_owned);
        for clause in &merge.clauses {
            match &clause.action {
                MergeAction::Update(update) => match &update.kind {
                    MergeUpdateKind::Set(assignments) => {
                        refuse_tenant_writes(assignments, &frame.refs[0])?;
                    }
                    MergeUpdateKind::Wildcard => {
                        return Err(CheckError::at(
                            "`UPDATE SET *` is not PostgreSQL",
                            clause.span().start,
                        ));
                    }
                },
                MergeAction::Insert(insert) => {
                    let columns: Vec<String> =
                        insert.columns.iter().filter_map(names::last).collect();
                    if let Some(column) = &column {
                        if columns.is_empty() {
                            return Err(CheckError::at(
                                format!(
                                    "name the columns of MERGE's INSERT, with `{column}` set to `$tenant` (or left out)"
                                ),
                                insert.span().start,
                            ));
                        }
                        if let (Some(i), MergeInsertKind::Values(values)) =
                            (columns.iter().position(|c| c == column), &insert.kind)
                        {
                            for row in &values.rows {
                                if !row.get(i).is_some_and(is_tenant_param) {
                                    return Err(CheckError::at(
                                        format!(
                                            "MERGE's INSERT sets `{column}` to something other than `$tenant`"
                                        ),
                                        insert.span().start,
                                    ));
                                }
                            }
                        }
                    }
                }
                MergeAction::Delete { .. } | MergeAction::DoNothing { .. } => {}
            }
        }
        let source_ref = frame.refs.get(1).cloned();
        let on: &dyn VisitDyn = &*merge.on;
        let result = self.finish(frame, env, &[on, &merge.clauses]);
        match (result, source_ref) {
            (Err(e), Some(source))
                if inserts
                    && source.tenant_column().is_some()
                    && e.location() == Some((source.at.line, source.at.column)) =>
            {
                Err(CheckError::at(
                    format!(
                        "MERGE inserts unmatched rows of {}, which ON cannot filter: use `USING (SELECT ... FROM {} WHERE {} = $tenant) AS {}`",
                        source.shown,
                        source.table,
                        source.tenant_column().unwrap_or("tenant_id"),
                        source.binding
                    ),
                    source.at,
                ))
            }
            (result, _) => result,
        }
    }

    /// The table a write targets: a plain table, first in the frame.
    fn target<'s>(
        &mut self,
        factor: &'s TableFactor,
        env: &Env<'_>,
        frame: &mut Frame<'s>,
    ) -> Result<(), CheckError> {
        let TableFactor::Table {
            name,
            alias,
            args: None,
            ..
        } = factor
        else {
            return Err(CheckError::at(
                "the target of a write must be a table",
                factor.span().start,
            ));
        };
        let r = self.table(name, alias.as_ref().map(|a| &a.name), env)?;
        frame.refs.push(r);
        Ok(())
    }
}

/// `WHERE` filters every reference of the frame.
fn where_pool<'s>(frame: &mut Frame<'s>, selection: Option<&'s sqlparser::ast::Expr>) {
    if let Some(selection) = selection {
        frame.pools.push(Pool {
            conjuncts: conjuncts(selection),
            targets: (0..frame.refs.len()).collect(),
        });
    }
}

/// An UPDATE's `SET` must not write the target's tenant column.
fn refuse_tenant_writes(assignments: &[Assignment], target: &Ref) -> Result<(), CheckError> {
    let Some(column) = target.tenant_column() else {
        return Ok(());
    };
    for assignment in assignments {
        let names: Vec<&ObjectName> = match &assignment.target {
            AssignmentTarget::ColumnName(name) => vec![name],
            AssignmentTarget::Tuple(names) => names.iter().collect(),
        };
        if names
            .iter()
            .any(|n| names::last(n).as_deref() == Some(column))
        {
            return Err(CheckError::at(
                format!(
                    "`{}.{column}` is the tenant column: a row cannot move to another tenant, so it is never SET",
                    target.binding
                ),
                assignment.span().start,
            ));
        }
    }
    Ok(())
}

/// The rows an INSERT writes must carry `$tenant` in the tenant column.
fn tenant_values(
    body: &SetExpr,
    index: usize,
    target: &Ref,
    column: &str,
) -> Result<(), CheckError> {
    let wrong = |at| {
        CheckError::at(
            format!(
                "INSERT INTO `{}` sets `{column}` to something other than `$tenant`: write `$tenant` there, or leave the column out for its default",
                target.binding
            ),
            at,
        )
    };
    match body {
        SetExpr::Values(values) => {
            for row in &values.rows {
                match row.get(index) {
                    Some(value) if is_tenant_param(value) => {}
                    Some(value) => return Err(wrong(value.span().start)),
                    None => return Err(wrong(target.at)),
                }
            }
            Ok(())
        }
        SetExpr::Select(select) => match select.projection.get(index) {
            Some(SelectItem::UnnamedExpr(e) | SelectItem::ExprWithAlias { expr: e, .. })
                if is_tenant_param(e) =>
            {
                Ok(())
            }
            Some(item) => Err(wrong(item.span().start)),
            None => Err(wrong(target.at)),
        },
        SetExpr::Query(query) => tenant_values(&query.body, index, target, column),
        other => Err(wrong(other.span().start)),
    }
}

//! The planner: from what the catalog says to the steps of the plan.

use std::collections::HashSet;
use std::fmt::Write as _;

use sqlx::PgConnection;
use tenancy_core::rls::{Ident, TenantPolicy, revoke_temporary_sql};
use tenancy_core::uuid::Uuid;
use tenancy_core::{IdSqlType, TenantId};

use super::catalog::{self, ForeignKey, KeyKind, Table, UniqueKey, View};
use super::{RetrofitError, RetrofitOptions, RetrofitPlan, Step, StepKind};

/// What the catalog said, and the plan being written.
pub(super) struct Planner<'o> {
    options: &'o RetrofitOptions,
    id_type: IdSqlType,
    tables: Vec<Table>,
    /// Rows with a NULL tenant, per tenant table with a nullable column.
    nulls: Vec<(i64, i64)>,
    keys: Vec<UniqueKey>,
    foreign_keys: Vec<ForeignKey>,
    views: Vec<View>,
    role_exists: bool,
    database: String,
    steps: Vec<Step>,
    notes: Vec<String>,
}

/// `"a"."b"` for `a.b`.
fn qualified(table: &Table) -> Result<String, RetrofitError> {
    Ok(Ident::new(&table.qualified())?.sql())
}

fn quoted(name: &str) -> Result<String, RetrofitError> {
    Ok(Ident::new(name)?.sql())
}

fn column_list(columns: &[String]) -> Result<String, RetrofitError> {
    Ok(columns
        .iter()
        .map(|c| quoted(c))
        .collect::<Result<Vec<_>, _>>()?
        .join(", "))
}

/// An index name for `table (columns)` that PostgreSQL keeps as it is.
fn index_name(table: &str, columns: &[&str]) -> String {
    tenancy_core::rls::bounded_name(&format!("{table}_{}_idx", columns.join("_")))
}

/// The `ON DELETE` / `ON UPDATE` clause of a foreign key action code.
/// `SET NULL` and `SET DEFAULT` on delete name the original columns only,
/// so the tenant column is never nulled; on update PostgreSQL has no
/// column list, so `None` (the caller notes it and keeps `NO ACTION`).
fn action(code: &str, columns: &str, on_delete: bool) -> Option<String> {
    Some(match code {
        "r" => "RESTRICT".to_owned(),
        "c" => "CASCADE".to_owned(),
        "n" if on_delete => format!("SET NULL ({columns})"),
        "d" if on_delete => format!("SET DEFAULT ({columns})"),
        "n" | "d" => return None,
        _ => "NO ACTION".to_owned(),
    })
}

impl<'o> Planner<'o> {
    pub(super) async fn read(
        conn: &mut PgConnection,
        options: &'o RetrofitOptions,
    ) -> Result<Self, RetrofitError> {
        let schemas = options.schemas();
        let tables = catalog::tables(conn, &schemas, &options.tenant_column).await?;
        let id_type = id_type(options, &tables, &schemas)?;
        let mut nulls = Vec::new();
        let mut keys = Vec::new();
        for table in &tables {
            let Some(tenant) = &table.tenant else {
                continue;
            };
            if !tenant.not_null {
                let count = catalog::null_tenants(
                    conn,
                    &qualified(table)?,
                    &quoted(&options.tenant_column)?,
                )
                .await?;
                nulls.push((table.oid, count));
            }
            keys.extend(catalog::unique_keys(conn, table, tenant.attnum).await?);
        }
        let oids: Vec<i64> = tables.iter().map(|t| t.oid).collect();
        let foreign_keys = catalog::foreign_keys(conn, &oids).await?;
        let tenant_oids: Vec<i64> = tables
            .iter()
            .filter(|t| t.tenant.is_some())
            .map(|t| t.oid)
            .collect();
        let views = catalog::views(conn, &tenant_oids).await?;
        let role_exists = match &options.app_role {
            Some(role) => catalog::role_exists(conn, role).await?,
            None => true,
        };
        let database = catalog::database(conn).await?;
        Ok(Self {
            options,
            id_type,
            tables,
            nulls,
            keys,
            foreign_keys,
            views,
            role_exists,
            database,
            steps: Vec::new(),
            notes: Vec::new(),
        })
    }

    fn table(&self, oid: i64) -> Option<&Table> {
        self.tables.iter().find(|t| t.oid == oid)
    }

    fn is_tenant(&self, oid: i64) -> bool {
        self.table(oid).is_some_and(|t| t.tenant.is_some())
    }

    fn step(&mut self, kind: StepKind, object: String, why: &str, sql: String) {
        self.steps.push(Step {
            kind,
            object,
            why: why.to_owned(),
            sql,
        });
    }

    fn policy(&self, table: &Table) -> Result<TenantPolicy, RetrofitError> {
        Ok(TenantPolicy::new(&table.qualified())?
            .with_tenant_column(&self.options.tenant_column)?
            .with_setting(self.options.setting.clone())
            .with_id_type(self.id_type))
    }

    pub(super) fn plan(mut self) -> Result<RetrofitPlan, RetrofitError> {
        let column = quoted(&self.options.tenant_column)?;
        let fixed = self.foreign_keys_to_fix();
        let blocked = self.keys_blocked_by_outside_references();
        for fk in &fixed {
            let table = self.table(fk.table).cloned();
            if let Some(table) = table {
                self.step(
                    StepKind::DropForeignKey,
                    format!("{} on {}", fk.name, table.qualified()),
                    "it leaves the tenant column out; it is added back with it below",
                    format!(
                        "ALTER TABLE {} DROP CONSTRAINT {};\n",
                        qualified(&table)?,
                        quoted(&fk.name)?
                    ),
                );
            }
        }
        self.backfills()?;
        self.policies()?;
        let composite = self.composite_keys(&column, &blocked)?;
        self.add_foreign_keys(&column, &fixed, &composite)?;
        self.index_foreign_keys(&fixed)?;
        self.views_as_invoker();
        self.role_and_grants()?;
        if self.options.force {
            self.force()?;
        }
        let tenant_tables = self
            .tables
            .iter()
            .filter(|t| t.tenant.is_some() || self.backfilled(t))
            .map(Table::qualified)
            .collect();
        Ok(RetrofitPlan {
            id_type: self.id_type,
            tenant_tables,
            steps: self.steps,
            notes: self.notes,
        })
    }

    /// Whether `table` gets the tenant column from the owner.
    fn backfilled(&self, table: &Table) -> bool {
        table.tenant.is_none() && self.options.owner.is_some() && !self.options.is_shared(table)
    }

    fn backfills(&mut self) -> Result<(), RetrofitError> {
        let tables: Vec<Table> = self
            .tables
            .iter()
            .filter(|t| t.tenant.is_none() && !self.options.is_shared(t))
            .cloned()
            .collect();
        let Some(owner) = self.options.owner.clone() else {
            for table in tables {
                self.notes.push(format!(
                    "{} has no column {}: declare it shared (--shared-table {}) or give its rows to a tenant (--backfill-owner ID)",
                    table.qualified(),
                    self.options.tenant_column,
                    table.name
                ));
            }
            return Ok(());
        };
        for table in tables {
            let policy = self.policy(&table)?;
            let backfill = match self.id_type {
                IdSqlType::Uuid => policy.backfill_sql(&owner.parse::<TenantId<Uuid>>()?),
                IdSqlType::BigInt => policy.backfill_sql(&owner.parse::<TenantId<i64>>()?),
                IdSqlType::Integer => policy.backfill_sql(&owner.parse::<TenantId<i32>>()?),
                IdSqlType::Text => policy.backfill_sql(&owner.parse::<TenantId<String>>()?),
            };
            self.step(
                StepKind::Backfill,
                table.qualified(),
                "a table without the tenant column: its rows go to the backfill owner",
                format!("{backfill}{}", policy.enable_unforced_sql()),
            );
        }
        Ok(())
    }

    fn policies(&mut self) -> Result<(), RetrofitError> {
        let tables: Vec<Table> = self
            .tables
            .iter()
            .filter(|t| t.tenant.is_some())
            .cloned()
            .collect();
        for table in tables {
            if let Some((_, count)) = self.nulls.iter().find(|(oid, _)| *oid == table.oid)
                && *count > 0
            {
                self.notes.push(format!(
                    "{} has {count} rows without a tenant ({} IS NULL): give them a tenant or delete them, or the NOT NULL step fails and nothing is applied",
                    table.qualified(),
                    self.options.tenant_column
                ));
            }
            let sql = self.policy(&table)?.enable_unforced_sql();
            self.step(
                StepKind::Policy,
                table.qualified(),
                "the tenant column's default, NOT NULL, an index, row-level security and the tenant policy",
                sql,
            );
        }
        Ok(())
    }

    /// Foreign keys between tenant tables that leave the tenant column out.
    fn foreign_keys_to_fix(&self) -> Vec<ForeignKey> {
        let column = &self.options.tenant_column;
        self.foreign_keys
            .iter()
            .filter(|fk| self.is_tenant(fk.table) && self.is_tenant(fk.target))
            .filter(|fk| !fk.columns.contains(column))
            .cloned()
            .collect()
    }

    /// Tenant tables referenced by foreign keys from tables without the
    /// tenant column: their keys cannot become composite.
    fn keys_blocked_by_outside_references(&mut self) -> HashSet<i64> {
        let mut blocked = HashSet::new();
        let outside: Vec<(String, String, String)> = self
            .foreign_keys
            .iter()
            .filter(|fk| self.is_tenant(fk.target) && !self.is_tenant(fk.table))
            .filter_map(|fk| {
                blocked.insert(fk.target);
                Some((
                    fk.name.clone(),
                    self.table(fk.table)?.qualified(),
                    self.table(fk.target)?.qualified(),
                ))
            })
            .collect();
        for (name, from, to) in outside {
            self.notes.push(format!(
                "{name} on {from} (a table without the tenant column) references {to}: its keys keep their columns; give {from} the tenant column, or reference {to} from tenant tables only"
            ));
        }
        blocked
    }

    /// Makes primary and unique keys include the tenant column; returns the
    /// keys (table, columns without the tenant) that are now composite.
    fn composite_keys(
        &mut self,
        column: &str,
        blocked: &HashSet<i64>,
    ) -> Result<Vec<(i64, Vec<String>)>, RetrofitError> {
        let mut composite = Vec::new();
        let keys: Vec<UniqueKey> = self
            .keys
            .iter()
            .filter(|k| !k.has_tenant)
            .cloned()
            .collect();
        for key in keys {
            let Some(table) = self.table(key.table).cloned() else {
                continue;
            };
            let object = format!("{} on {}", key.name, table.qualified());
            let Some(columns) = key.columns.clone() else {
                self.notes.push(format!(
                    "{object} is a unique index on expressions or with a WHERE clause: recreate it with {} as its first column",
                    self.options.tenant_column
                ));
                continue;
            };
            if blocked.contains(&key.table) {
                continue;
            }
            let (name, list) = (quoted(&key.name)?, column_list(&columns)?);
            let sql = match key.kind {
                KeyKind::Primary | KeyKind::Unique => format!(
                    "ALTER TABLE {table} DROP CONSTRAINT {name}, ADD CONSTRAINT {name} {kind} ({column}, {list});\n",
                    table = qualified(&table)?,
                    kind = if key.kind == KeyKind::Primary {
                        "PRIMARY KEY"
                    } else {
                        "UNIQUE"
                    },
                ),
                KeyKind::Index => format!(
                    "DROP INDEX {schema}.{name};\nCREATE UNIQUE INDEX {name} ON {table} ({column}, {list});\n",
                    schema = quoted(&table.schema)?,
                    table = qualified(&table)?,
                ),
            };
            self.step(
                StepKind::CompositeKey,
                object,
                "unique keys are checked without row-level security: across tenants, a duplicate-key error reveals another tenant's row",
                sql,
            );
            composite.push((key.table, columns));
        }
        Ok(composite)
    }

    fn add_foreign_keys(
        &mut self,
        column: &str,
        fixed: &[ForeignKey],
        composite: &[(i64, Vec<String>)],
    ) -> Result<(), RetrofitError> {
        for fk in fixed {
            let (Some(table), Some(target)) = (
                self.table(fk.table).cloned(),
                self.table(fk.target).cloned(),
            ) else {
                continue;
            };
            let target_key = (fk.target, fk.target_columns.clone());
            let mut sql = String::new();
            if !composite.contains(&target_key) {
                // The referenced key stayed as it was: the composite
                // reference needs a unique key of its own.
                let name = quoted(&index_name(
                    &target.name,
                    &[
                        &self.options.tenant_column,
                        &fk.target_columns.join("_"),
                        "key",
                    ],
                ))?;
                let _ = writeln!(
                    sql,
                    "ALTER TABLE {} ADD CONSTRAINT {name} UNIQUE ({column}, {});",
                    qualified(&target)?,
                    column_list(&fk.target_columns)?
                );
            }
            let columns = column_list(&fk.columns)?;
            let mut clause = format!(
                "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({column}, {columns}) REFERENCES {} ({column}, {})",
                qualified(&table)?,
                quoted(&fk.name)?,
                qualified(&target)?,
                column_list(&fk.target_columns)?,
            );
            if let Some(on_delete) = action(&fk.on_delete, &columns, true) {
                let _ = write!(clause, " ON DELETE {on_delete}");
            }
            match action(&fk.on_update, &columns, false) {
                Some(on_update) => {
                    let _ = write!(clause, " ON UPDATE {on_update}");
                }
                None => self.notes.push(format!(
                    "{} on {} had ON UPDATE SET NULL/DEFAULT, which would clear the tenant column too: it is NO ACTION now",
                    fk.name,
                    table.qualified()
                )),
            }
            if fk.deferrable {
                clause.push_str(" DEFERRABLE");
                if fk.deferred {
                    clause.push_str(" INITIALLY DEFERRED");
                }
            }
            sql.push_str(&clause);
            sql.push_str(";\n");
            let index: Vec<&str> = std::iter::once(self.options.tenant_column.as_str())
                .chain(fk.columns.iter().map(String::as_str))
                .collect();
            let _ = writeln!(
                sql,
                "CREATE INDEX IF NOT EXISTS {} ON {} ({column}, {columns});",
                quoted(&index_name(&table.name, &index))?,
                qualified(&table)?,
            );
            self.step(
                StepKind::ForeignKey,
                format!("{} on {}", fk.name, table.qualified()),
                "a foreign key without the tenant column lets a row point into another tenant, and its check reveals that the row exists",
                sql,
            );
        }
        Ok(())
    }

    /// Indexes for the other foreign keys of tenant tables that no index
    /// leads with.
    fn index_foreign_keys(&mut self, fixed: &[ForeignKey]) -> Result<(), RetrofitError> {
        let unindexed: Vec<ForeignKey> = self
            .foreign_keys
            .iter()
            .filter(|fk| self.is_tenant(fk.table) && !fk.indexed)
            .filter(|fk| {
                !fixed
                    .iter()
                    .any(|f| f.table == fk.table && f.name == fk.name)
            })
            .cloned()
            .collect();
        for fk in unindexed {
            let Some(table) = self.table(fk.table).cloned() else {
                continue;
            };
            let names: Vec<&str> = fk.columns.iter().map(String::as_str).collect();
            let sql = format!(
                "CREATE INDEX IF NOT EXISTS {} ON {} ({});\n",
                quoted(&index_name(&table.name, &names))?,
                qualified(&table)?,
                column_list(&fk.columns)?
            );
            self.step(
                StepKind::ForeignKeyIndex,
                format!("{} on {}", fk.name, table.qualified()),
                "no index leads with the foreign key: deleting a referenced row scans the table",
                sql,
            );
        }
        Ok(())
    }

    fn views_as_invoker(&mut self) {
        let views: Vec<View> = self.views.clone();
        let mut seen = HashSet::new();
        for view in views {
            if !seen.insert(view.qualified.clone()) {
                continue;
            }
            let base = self
                .table(view.base)
                .map_or_else(String::new, Table::qualified);
            if view.materialized {
                self.notes.push(format!(
                    "{} is a materialized view over {base}: it has no row-level security; drop it or keep it from the runtime role",
                    view.qualified
                ));
            } else if !view.security_invoker {
                self.step(
                    StepKind::ViewInvoker,
                    view.qualified.clone(),
                    "a view runs with its owner's rights unless security_invoker is set: through it, the policies would not apply",
                    format!("ALTER VIEW {} SET (security_invoker = true);\n", view.qualified),
                );
            }
        }
    }

    fn role_and_grants(&mut self) -> Result<(), RetrofitError> {
        let Some(role) = self.options.app_role.clone() else {
            self.notes.push(
                "no runtime role given (--app-role): connect the application as a role that is not a superuser, has no BYPASSRLS and owns no table".to_owned(),
            );
            return Ok(());
        };
        let ident = Ident::new(&role)?;
        let role_sql = ident.sql();
        if !self.role_exists {
            self.step(
                StepKind::Role,
                role.clone(),
                "the application's runtime role: no superuser, no BYPASSRLS, owns nothing (set its password afterwards)",
                format!(
                    "CREATE ROLE {role_sql} LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE NOINHERIT;\n"
                ),
            );
        }
        let mut grants = String::new();
        for schema in self.options.schemas() {
            let schema = quoted(&schema)?;
            let _ = write!(
                grants,
                "GRANT USAGE ON SCHEMA {schema} TO {role_sql};\n\
                 GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA {schema} TO {role_sql};\n\
                 GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA {schema} TO {role_sql};\n"
            );
        }
        self.step(
            StepKind::Grants,
            role.clone(),
            "what the application needs on the tables and sequences, and nothing more",
            grants,
        );
        self.step(
            StepKind::RevokeTemporary,
            self.database.clone(),
            "a temporary table can shadow a tenant table for the rest of a pooled session",
            format!(
                "{}\n",
                revoke_temporary_sql(&Ident::new(&self.database)?, &ident)
            ),
        );
        Ok(())
    }

    fn force(&mut self) -> Result<(), RetrofitError> {
        let tables: Vec<Table> = self
            .tables
            .iter()
            .filter(|t| t.tenant.is_some() || self.backfilled(t))
            .cloned()
            .collect();
        let mut sql = String::new();
        for table in &tables {
            sql.push_str(&self.policy(table)?.force_sql());
        }
        if !sql.is_empty() {
            self.step(
                StepKind::Force,
                "tenant tables".to_owned(),
                "the policies bind the tables' owner too (last: leave it out with --no-force while an old deployment still connects as the owner)",
                sql,
            );
        }
        Ok(())
    }
}

/// The type of the tenant ids: the one type of every tenant column.
fn id_type(
    options: &RetrofitOptions,
    tables: &[Table],
    schemas: &[String],
) -> Result<IdSqlType, RetrofitError> {
    let mut found: Option<(IdSqlType, String)> = None;
    for table in tables {
        let Some(tenant) = &table.tenant else {
            continue;
        };
        let mismatch = |expected: String| RetrofitError::IdType {
            column: options.tenant_column.clone(),
            table: table.qualified(),
            found: tenant.column_type.clone(),
            expected,
        };
        let Some(ty) = IdSqlType::from_catalog_name(&tenant.column_type) else {
            return Err(mismatch("uuid, bigint, integer or text".to_owned()));
        };
        match &found {
            None => found = Some((ty, tenant.column_type.clone())),
            Some((first, first_name)) if *first != ty => {
                return Err(mismatch(first_name.clone()));
            }
            Some(_) => {}
        }
    }
    found
        .map(|(ty, _)| ty)
        .ok_or_else(|| RetrofitError::NoTenantTables {
            column: options.tenant_column.clone(),
            schemas: schemas.join(", "),
        })
}

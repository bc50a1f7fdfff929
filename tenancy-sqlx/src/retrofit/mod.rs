//! Retrofit: put an existing database under tenant isolation, from a plan
//! you review first (feature `retrofit`).
//!
//! [`plan`] reads a live database and writes the migration that the audit
//! asks for, as SQL:
//!
//! - for every table that has the tenant column (`account_id bigint`, say):
//!   the column's default from the tenant setting, `NOT NULL`, an index,
//!   `ENABLE ROW LEVEL SECURITY` and the tenant policy (cast to the
//!   column's type);
//! - primary keys and unique keys that leave the tenant column out become
//!   composite (`PRIMARY KEY (account_id, id)`), and foreign keys between
//!   tenant tables include it (`FOREIGN KEY (account_id, project_id)
//!   REFERENCES projects (account_id, id)`), each with an index: a key
//!   checked across tenants tells one tenant that another's row exists, and
//!   a foreign key without the tenant lets a row point into another tenant;
//! - views over tenant tables switch to `security_invoker`;
//! - with an owner id, tables without the tenant column get it, every
//!   existing row given to that tenant (a single-tenant app turning
//!   multi-tenant);
//! - with a runtime role: the role (no superuser, no `BYPASSRLS`, owns
//!   nothing), its grants, and `REVOKE TEMPORARY`;
//! - last, `FORCE ROW LEVEL SECURITY` (leave it out with
//!   [`RetrofitOptions::without_force`] to switch without downtime, see
//!   `docs/adopting.md`).
//!
//! Nothing is changed until you ask: [`apply`] runs the plan in one
//! transaction and audits the result before it commits (or, for a dry run,
//! rolls back). Run [`plan`] again afterwards: it is empty once the
//! database needs nothing more, and what it cannot do itself it lists as
//! [notes](RetrofitPlan::notes) (an expression index, a column with `NULL`
//! tenants, a table referenced from outside the tenant tables).

mod catalog;
mod sql;

use std::fmt::Write as _;

use serde::Serialize;
use sqlx::{Acquire, PgConnection, Postgres};
use tenancy_core::rls::{Ident, InvalidName, SettingName};
use tenancy_core::{IdSqlType, TenantError};

use crate::audit::{AuditOptions, Report, Severity};
use catalog::Table;

/// What to retrofit: the tenant column, the schemas, the tables every
/// tenant shares, the runtime role.
///
/// ```
/// use tenancy_sqlx::retrofit::RetrofitOptions;
///
/// let options = RetrofitOptions::default()
///     .tenant_column("account_id")?
///     .shared_table("accounts")
///     .app_role("saas_app")?;
/// assert_eq!(options.tenant_column_name(), "account_id");
/// # Ok::<(), tenancy_core::rls::InvalidName>(())
/// ```
#[derive(Debug, Clone)]
pub struct RetrofitOptions {
    tenant_column: String,
    setting: SettingName,
    schemas: Vec<String>,
    shared: Vec<String>,
    app_role: Option<String>,
    owner: Option<String>,
    force: bool,
}

impl Default for RetrofitOptions {
    /// Tenant column `tenant_id`, setting `app.tenant_id`, schema `public`,
    /// no shared tables, no runtime role, no owner, `FORCE` included.
    fn default() -> Self {
        Self {
            tenant_column: "tenant_id".to_owned(),
            setting: SettingName::default(),
            schemas: Vec::new(),
            shared: Vec::new(),
            app_role: None,
            owner: None,
            force: true,
        }
    }
}

impl RetrofitOptions {
    /// The tenant column of the existing tables (`account_id`,
    /// `company_id`, ...).
    pub fn tenant_column(mut self, column: &str) -> Result<Self, InvalidName> {
        Ident::new(column)?;
        column.clone_into(&mut self.tenant_column);
        Ok(self)
    }

    /// The tenant column.
    pub fn tenant_column_name(&self) -> &str {
        &self.tenant_column
    }

    /// The setting the policies read; it must be the one the pools bind.
    #[must_use]
    pub fn setting(mut self, setting: SettingName) -> Self {
        self.setting = setting;
        self
    }

    /// Retrofits this schema (repeatable; `public` when none is given).
    #[must_use]
    pub fn schema(mut self, schema: &str) -> Self {
        self.schemas.push(schema.to_owned());
        self
    }

    /// A table every tenant shares (`plans`, or the tenants table itself),
    /// by name or `schema.name`: it is neither backfilled nor noted.
    #[must_use]
    pub fn shared_table(mut self, table: &str) -> Self {
        self.shared.push(table.to_owned());
        self
    }

    /// The application's runtime role: created if missing (without a
    /// password: set one, or use your secret store's role), granted what
    /// the application needs, denied `TEMPORARY`.
    pub fn app_role(mut self, role: &str) -> Result<Self, InvalidName> {
        Ident::new(role)?;
        self.app_role = Some(role.to_owned());
        Ok(self)
    }

    /// Gives the rows of tables without the tenant column to this tenant
    /// (its id, of the type of the tenant column): for a single-tenant
    /// application turning multi-tenant.
    #[must_use]
    pub fn backfill_owner(mut self, id: &str) -> Self {
        self.owner = Some(id.to_owned());
        self
    }

    /// Leaves `FORCE ROW LEVEL SECURITY` out, so the tables' owner is not
    /// bound by the policies yet: for a switch without downtime, while an
    /// old deployment still connects as the owner. Run the plan again
    /// without this option once it is gone.
    #[must_use]
    pub fn without_force(mut self) -> Self {
        self.force = false;
        self
    }

    fn schemas(&self) -> Vec<String> {
        if self.schemas.is_empty() {
            vec!["public".to_owned()]
        } else {
            self.schemas.clone()
        }
    }

    fn is_shared(&self, table: &Table) -> bool {
        self.shared
            .iter()
            .any(|s| *s == table.name || *s == table.qualified())
    }
}

/// What a step of the plan does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum StepKind {
    /// Drops a foreign key that leaves the tenant column out (it is added
    /// back with it).
    DropForeignKey,
    /// Adds the tenant column to a table without one and gives its rows to
    /// the owner.
    Backfill,
    /// Default, `NOT NULL`, index, `ENABLE ROW LEVEL SECURITY`, policy.
    Policy,
    /// Makes a primary or unique key include the tenant column.
    CompositeKey,
    /// Adds a foreign key with the tenant column, and its index.
    ForeignKey,
    /// Adds an index for a foreign key.
    ForeignKeyIndex,
    /// Makes a view run with its caller's rights.
    ViewInvoker,
    /// Creates the runtime role.
    Role,
    /// Grants the runtime role what the application needs.
    Grants,
    /// Revokes `TEMPORARY` (a temporary table can shadow a tenant table).
    RevokeTemporary,
    /// `FORCE ROW LEVEL SECURITY`.
    Force,
}

/// One step: SQL for one object, and why.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Step {
    /// What it does.
    pub kind: StepKind,
    /// The table, key, view or role it changes.
    pub object: String,
    /// Why.
    pub why: String,
    /// The SQL, one or more statements, each ending with `;`.
    pub sql: String,
}

/// The migration that puts a database under tenant isolation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RetrofitPlan {
    /// The type of the tenant ids (from the tenant column): the
    /// application binds this `TenantIdType`.
    pub id_type: IdSqlType,
    /// The tables that hold tenant rows, after the plan.
    pub tenant_tables: Vec<String>,
    /// The steps, in the order they run.
    pub steps: Vec<Step>,
    /// What the plan cannot do itself and a person has to decide.
    pub notes: Vec<String>,
}

impl RetrofitPlan {
    /// Whether there is nothing to do.
    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The plan as one SQL script for review, each step under a comment
    /// that says why, the notes at the top. It has no `BEGIN`: run it in
    /// one transaction ([`apply`] does).
    pub fn sql(&self) -> String {
        let mut out = String::from("-- tenancy retrofit plan: review before applying.\n");
        let _ = writeln!(
            out,
            "-- Tenant ids are of type {}; tenant tables: {}.",
            self.id_type,
            if self.tenant_tables.is_empty() {
                "none".to_owned()
            } else {
                self.tenant_tables.join(", ")
            }
        );
        for note in &self.notes {
            let _ = writeln!(out, "-- NOTE: {note}");
        }
        if self.steps.is_empty() {
            out.push_str("-- Nothing to do.\n");
        }
        for step in &self.steps {
            let _ = write!(out, "\n-- {}: {}\n{}", step.object, step.why, step.sql);
        }
        out
    }
}

/// Why no plan could be made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RetrofitError {
    /// The catalog could not be read.
    #[error("cannot read the database: {0}")]
    Database(#[from] sqlx::Error),
    /// No table has the tenant column.
    #[error(
        "no table in {schemas} has the column {column:?}: pass the tenant column your tables use (--tenant-column account_id)"
    )]
    NoTenantTables {
        /// The tenant column looked for.
        column: String,
        /// The schemas looked in.
        schemas: String,
    },
    /// The tenant columns have different types, or a type no tenant id has.
    #[error(
        "the tenant column {column:?} has the type {found} in {table} but {expected} elsewhere \
         (tenant ids are uuid, bigint, integer or text, one type in the whole database): convert it first"
    )]
    IdType {
        /// The tenant column.
        column: String,
        /// The table.
        table: String,
        /// Its type.
        found: String,
        /// The type of the other tenant tables, or what a tenant id can be.
        expected: String,
    },
    /// The backfill owner is not an id of the tenant column's type.
    #[error("the backfill owner is not a tenant id: {0}")]
    Owner(#[from] TenantError),
    /// A name could not be written into SQL.
    #[error(transparent)]
    InvalidName(#[from] InvalidName),
}

/// Reads the database `conn` is connected to and writes the plan. Any role
/// that can read the catalog and the tenant tables can run it (the count
/// of rows without a tenant reads them); it changes nothing.
pub async fn plan(
    conn: impl Acquire<'_, Database = Postgres>,
    options: &RetrofitOptions,
) -> Result<RetrofitPlan, RetrofitError> {
    let mut conn = conn.acquire().await?;
    sql::Planner::read(&mut conn, options).await?.plan()
}

/// When [`apply`] commits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Commit {
    /// Never: a dry run, which proves the plan applies and shows the audit
    /// of the result, then rolls back.
    Never,
    /// When the audit of the result has no finding at or above this
    /// severity; otherwise it rolls back.
    IfNoFindingAt(Severity),
}

/// The outcome of [`apply`].
#[derive(Debug)]
pub struct Applied {
    /// Whether the changes were committed.
    pub committed: bool,
    /// The audit of the database with the plan applied, read inside the
    /// same transaction, before the commit or the rollback.
    pub audit: Report,
}

/// Runs `plan` in one transaction on `conn`, audits the result inside it
/// with `audit`, then commits or rolls back as `commit` says. A failing
/// statement rolls everything back (and is the error): the database is
/// either fully retrofitted or unchanged. Run it as the tables' owner (or
/// a superuser).
pub async fn apply(
    conn: &mut PgConnection,
    plan: &RetrofitPlan,
    audit: &AuditOptions,
    commit: Commit,
) -> Result<Applied, sqlx::Error> {
    let mut tx = conn.begin().await?;
    sqlx::raw_sql(sqlx::AssertSqlSafe(plan.sql()))
        .execute(&mut *tx)
        .await?;
    let report = crate::audit::audit(&mut *tx, audit).await?;
    let committed = match commit {
        Commit::Never => false,
        Commit::IfNoFindingAt(severity) => !report.has_findings_at(severity),
    };
    if committed {
        tx.commit().await?;
    } else {
        tx.rollback().await?;
    }
    Ok(Applied {
        committed,
        audit: report,
    })
}

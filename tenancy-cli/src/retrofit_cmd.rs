//! `tenancy retrofit`: the migration plan that puts an existing database
//! under tenant isolation, for review; `--dry-run` and `--apply` run it.

use std::process::ExitCode;

use clap::Args;
use sqlx::{Connection, PgConnection};
use tenancy_core::rls::SettingName;
use tenancy_sqlx::audit::{AuditOptions, Severity};
use tenancy_sqlx::retrofit::{Commit, RetrofitOptions, RetrofitPlan, apply, plan};

/// Writes the plan that puts an existing database under tenant isolation.
///
/// Reads a live database whose tables carry a tenant column (an account
/// id of type bigint, say) and writes, as SQL for review: the column's default, NOT
/// NULL and index, row-level security and the tenant policy, primary,
/// unique and foreign keys that include the tenant column, views as
/// security invoker, the runtime role with its grants and REVOKE
/// TEMPORARY, and FORCE last. Changes nothing unless asked: --dry-run runs
/// the plan in a transaction, audits the result and rolls back; --apply
/// does the same and commits if the audit finds nothing at or above
/// --fail-on. Run it as the tables' owner.
#[derive(Debug, Args)]
#[allow(clippy::struct_excessive_bools)] // command-line flags
pub(crate) struct RetrofitArgs {
    /// The database, as the tables' owner (or a superuser).
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The tenant column your tables use.
    #[arg(long, value_name = "NAME", default_value = "tenant_id")]
    tenant_column: String,
    /// The setting the policies read (the one the pools bind).
    #[arg(long, value_name = "NAME", default_value = "app.tenant_id")]
    setting: String,
    /// Retrofits this schema (repeatable; default public).
    #[arg(long, value_name = "SCHEMA")]
    schema: Vec<String>,
    /// A table every tenant shares, such as the tenants table (repeatable).
    #[arg(long, value_name = "TABLE")]
    shared_table: Vec<String>,
    /// The application's runtime role: created if missing, granted, denied
    /// TEMPORARY.
    #[arg(long, value_name = "NAME")]
    app_role: Option<String>,
    /// Gives the rows of tables without the tenant column to this tenant.
    #[arg(long, value_name = "ID")]
    backfill_owner: Option<String>,
    /// Leaves FORCE ROW LEVEL SECURITY out (while an old deployment still
    /// connects as the tables' owner; run again without it afterwards).
    #[arg(long)]
    no_force: bool,
    /// Prints the plan as JSON instead of SQL.
    #[arg(long)]
    json: bool,
    /// Runs the plan in a transaction, audits the result, rolls back.
    #[arg(long, conflicts_with = "apply")]
    dry_run: bool,
    /// Runs the plan in a transaction, audits the result, commits if the
    /// audit finds nothing at or above --fail-on (rolls back otherwise).
    #[arg(long)]
    apply: bool,
    /// The audit severity that stops --apply (and makes --dry-run exit 1).
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = ["low", "medium", "high", "critical"])]
    fail_on: String,
}

impl RetrofitArgs {
    fn options(&self) -> Result<(RetrofitOptions, AuditOptions, Severity), String> {
        let setting = SettingName::new(&self.setting).map_err(|e| e.to_string())?;
        let mut options = RetrofitOptions::default()
            .tenant_column(&self.tenant_column)
            .map_err(|e| e.to_string())?
            .setting(setting.clone());
        let mut audit = AuditOptions::default()
            .tenant_column(&self.tenant_column)
            .setting(setting);
        for schema in &self.schema {
            options = options.schema(schema);
        }
        for table in &self.shared_table {
            options = options.shared_table(table);
            audit = audit.shared_table(table);
        }
        if let Some(role) = &self.app_role {
            options = options.app_role(role).map_err(|e| e.to_string())?;
            audit = audit.app_role(role);
        }
        if let Some(owner) = &self.backfill_owner {
            options = options.backfill_owner(owner);
        }
        if self.no_force {
            options = options.without_force();
        }
        Ok((options, audit, self.fail_on.parse()?))
    }
}

fn print(plan: &RetrofitPlan, json: bool) {
    if json {
        match serde_json::to_string_pretty(plan) {
            Ok(text) => println!("{text}"),
            Err(err) => eprintln!("tenancy retrofit: cannot write JSON: {err}"),
        }
    } else {
        print!("{}", plan.sql());
    }
}

/// Runs `tenancy retrofit`.
pub(crate) async fn run(args: RetrofitArgs) -> ExitCode {
    let (options, audit, fail_on) = match args.options() {
        Ok(options) => options,
        Err(err) => {
            eprintln!("tenancy retrofit: {err}");
            return ExitCode::from(2);
        }
    };
    let mut conn = match PgConnection::connect(&args.database_url).await {
        Ok(conn) => conn,
        Err(err) => {
            return crate::unavailable(
                "retrofit",
                format!("cannot connect to the database: {err}"),
            );
        }
    };
    let plan = match plan(&mut conn, &options).await {
        Ok(plan) => plan,
        Err(err) => return crate::unavailable("retrofit", err),
    };
    print(&plan, args.json);
    if !(args.dry_run || args.apply) {
        let _ = conn.close().await;
        return ExitCode::SUCCESS;
    }
    let commit = if args.apply {
        Commit::IfNoFindingAt(fail_on)
    } else {
        Commit::Never
    };
    let applied = apply(&mut conn, &plan, &audit, commit).await;
    let _ = conn.close().await;
    let applied = match applied {
        Ok(applied) => applied,
        Err(err) => {
            eprintln!("tenancy retrofit: the plan failed and nothing was changed: {err}");
            return ExitCode::from(1);
        }
    };
    eprint!("{}", applied.audit.to_text());
    let clean = !applied.audit.has_findings_at(fail_on);
    match (args.apply, applied.committed, clean) {
        (true, true, _) => {
            eprintln!("tenancy retrofit: applied; the audit finds nothing at or above {fail_on}");
            ExitCode::SUCCESS
        }
        (true, false, _) => {
            eprintln!(
                "tenancy retrofit: NOT applied (rolled back): the audit of the result has findings at or above {fail_on}"
            );
            ExitCode::from(1)
        }
        (false, _, true) => {
            eprintln!(
                "tenancy retrofit: dry run: the plan applies and the audit finds nothing at or above {fail_on}; nothing was changed"
            );
            ExitCode::SUCCESS
        }
        (false, _, false) => {
            eprintln!(
                "tenancy retrofit: dry run: the plan applies, but the audit of the result has findings at or above {fail_on}; nothing was changed"
            );
            ExitCode::from(1)
        }
    }
}

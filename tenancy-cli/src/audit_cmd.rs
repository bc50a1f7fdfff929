//! `tenancy audit`: find database misconfigurations that leak tenants.

use std::process::ExitCode;

use clap::Args;
use sqlx::{Connection, PgConnection};
use tenancy_core::rls::SettingName;
use tenancy_sqlx::audit::{AuditOptions, Severity, audit};

/// Finds what could leak tenants in a live database.
///
/// Inspects a live PostgreSQL database and reports every way its tenant
/// isolation could leak: row-level security off or not forced, policies
/// that widen access, roles that bypass RLS, views, SECURITY DEFINER
/// functions, ...
#[derive(Debug, Args)]
pub(crate) struct AuditArgs {
    /// The database; any role that can read the catalog.
    #[arg(long, env = "DATABASE_URL", hide_env_values = true)]
    database_url: String,
    /// The role the application connects as: checked for SUPERUSER,
    /// BYPASSRLS and ownership.
    #[arg(long, value_name = "NAME")]
    app_role: Option<String>,
    /// Prints the report as JSON.
    #[arg(long)]
    json: bool,
    /// Exits 1 if a finding is at least this severe.
    #[arg(long, value_name = "SEVERITY", default_value = "high", value_parser = ["low", "medium", "high", "critical"])]
    fail_on: String,
    /// The tenant column.
    #[arg(long, value_name = "NAME", default_value = "tenant_id")]
    tenant_column: String,
    /// The setting the policies read.
    #[arg(long, value_name = "NAME", default_value = "app.tenant_id")]
    setting: String,
    /// Every table in SCHEMA must have the tenant column (repeatable).
    #[arg(long, value_name = "SCHEMA")]
    tenant_schema: Vec<String>,
    /// A table shared by all tenants on purpose (repeatable).
    #[arg(long, value_name = "TABLE")]
    shared_table: Vec<String>,
}

impl AuditArgs {
    fn options(&self) -> Result<(AuditOptions, Severity), String> {
        let mut options = AuditOptions::default()
            .tenant_column(&self.tenant_column)
            .setting(SettingName::new(&self.setting).map_err(|e| e.to_string())?);
        if let Some(role) = &self.app_role {
            options = options.app_role(role);
        }
        for schema in &self.tenant_schema {
            options = options.tenant_schema(schema);
        }
        for table in &self.shared_table {
            options = options.shared_table(table);
        }
        Ok((options, self.fail_on.parse()?))
    }
}

/// Runs `tenancy audit`.
pub(crate) async fn run(args: AuditArgs) -> ExitCode {
    let (options, fail_on) = match args.options() {
        Ok(options) => options,
        Err(err) => {
            eprintln!("tenancy audit: {err}");
            return ExitCode::from(2);
        }
    };
    let report = async {
        let mut conn = PgConnection::connect(&args.database_url).await?;
        let report = audit(&mut conn, &options).await;
        let _ = conn.close().await;
        report
    }
    .await;
    match report {
        Ok(report) => {
            if args.json {
                println!("{}", report.to_json());
            } else {
                print!("{}", report.to_text());
            }
            if report.has_findings_at(fail_on) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(err) => crate::unavailable("audit", format!("could not audit the database: {err}")),
    }
}

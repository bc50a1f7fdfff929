//! `tenancy audit`: find database misconfigurations that leak tenants.

use std::process::ExitCode;

use crate::flags::{Flags, database_url_from_env, require_database};

use sqlx::{Connection, PgConnection};
use tenancy_core::rls::SettingName;
use tenancy_sqlx::audit::{AuditOptions, Severity, audit};

pub(crate) const USAGE: &str = "usage: tenancy audit --database-url URL [options]

Inspects a live PostgreSQL database and reports every way its tenant
isolation could leak (row-level security off or not forced, policies that
widen access, roles that bypass RLS, views, SECURITY DEFINER functions, ...).

options:
  --database-url URL      the database (default: $DATABASE_URL); any role that can read the catalog
  --app-role NAME         the role the application connects as: checked for SUPERUSER, BYPASSRLS, ownership
  --json                  print the report as JSON
  --fail-on SEVERITY      exit 1 if a finding is at least this severe: low, medium, high (default), critical
  --tenant-column NAME    the tenant column (default tenant_id)
  --setting NAME          the setting the policies read (default app.tenant_id)
  --tenant-schema SCHEMA  every table in SCHEMA must have the tenant column (repeatable)
  --shared-table TABLE    a table shared by all tenants on purpose (repeatable)";

struct Args {
    url: String,
    json: bool,
    fail_on: Severity,
    options: AuditOptions,
}

fn parse(args: &[String]) -> Result<Args, String> {
    let mut flags = Flags::new(args);
    let mut url = database_url_from_env();
    let mut json = false;
    let mut fail_on = Severity::High;
    let mut options = AuditOptions::default();
    while let Some(flag) = flags.next() {
        match flag {
            "--database-url" => url = Some(flags.value(flag)?),
            "--app-role" => options = options.app_role(&flags.value(flag)?),
            "--json" => json = true,
            "--fail-on" => fail_on = flags.value(flag)?.parse()?,
            "--tenant-column" => options = options.tenant_column(&flags.value(flag)?),
            "--setting" => {
                options = options
                    .setting(SettingName::new(&flags.value(flag)?).map_err(|e| e.to_string())?);
            }
            "--tenant-schema" => options = options.tenant_schema(&flags.value(flag)?),
            "--shared-table" => options = options.shared_table(&flags.value(flag)?),
            other => return Err(format!("unknown option {other:?}")),
        }
    }
    let url = require_database(url)?;
    Ok(Args {
        url,
        json,
        fail_on,
        options,
    })
}

/// Runs `tenancy audit` with the arguments after the command name.
pub(crate) async fn run(args: &[String]) -> ExitCode {
    let args = match parse(args) {
        Ok(args) => args,
        Err(err) => {
            eprintln!("tenancy audit: {err}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let report = async {
        let mut conn = PgConnection::connect(&args.url).await?;
        let report = audit(&mut conn, &args.options).await;
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
            if report.has_findings_at(args.fail_on) {
                ExitCode::from(1)
            } else {
                ExitCode::SUCCESS
            }
        }
        Err(err) => {
            eprintln!("tenancy: could not audit the database: {err}");
            ExitCode::from(2)
        }
    }
}

//! The SQL the module writes, checked as text (the PostgreSQL suites of
//! tenancy-sqlx and tenancy-diesel run it).

use super::*;
use crate::{IdSqlType, TenantId};

#[test]
fn setting_names_are_validated() {
    for bad in [
        "",
        "tenant",
        "App.Tenant",
        "app.",
        ".x",
        "app.x y",
        "app.x;--",
        "a.b.c'",
    ] {
        assert!(SettingName::new(bad).is_err(), "{bad:?}");
    }
    assert!(SettingName::new("app.tenant_id").is_ok());
}

#[test]
fn identifiers_are_validated_and_quoted() {
    assert_eq!(Ident::new("orders").unwrap().sql(), "\"orders\"");
    assert_eq!(
        Ident::new("billing.invoices").unwrap().sql(),
        "\"billing\".\"invoices\""
    );
    for bad in ["", "Orders", "1x", "a-b", "x\"; drop", "a.b.c"] {
        assert!(Ident::new(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn begin_sql_with_options_quotes_values() {
    let id = TenantId::new_v4();
    let opts = TxOptions::default()
        .isolation(IsolationLevel::Serializable)
        .read_only()
        .setting("statement_timeout", "5s")
        .unwrap()
        .setting("application_name", "it's")
        .unwrap();
    assert_eq!(
        begin_sql(&SettingName::default(), &id, &opts),
        format!(
            "BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY; SET LOCAL statement_timeout = '5s'; \
                 SET LOCAL application_name = 'it''s'; SET LOCAL app.tenant_id = '{id}'{TEMP_LAST_SQL}"
        )
    );
    assert!(
        TxOptions::default()
            .setting("statement_timeout", "a\\'")
            .is_err()
    );
}

#[test]
fn options_cannot_name_identity_or_name_resolution() {
    for reserved in [
        "role",
        "session_authorization",
        "search_path",
        "row_security",
        "default_transaction_read_only",
        "temp_tablespaces",
        "Statement_Timeout",
        "statement_timeout; RESET ROLE",
    ] {
        let err = TxOptions::default().setting(reserved, "x").unwrap_err();
        assert!(
            err.to_string().contains("safe per transaction"),
            "{reserved}: {err}"
        );
    }
    assert!(TxOptions::default().setting("app.user_id", "7").is_ok());
}

#[test]
fn options_cannot_set_the_tenant_setting() {
    let tenant = crate::Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build();
    let options = TxOptions::default().setting("app.tenant_id", "x").unwrap();
    let err = TenantBinding::default()
        .begin_sql_with(&tenant, &options)
        .unwrap_err();
    assert_eq!(
        err,
        crate::TenantError::ReservedSetting {
            name: "app.tenant_id".into()
        }
    );
    // Another custom setting is the application's own.
    let options = TxOptions::default().setting("app.user_id", "7").unwrap();
    let sql = TenantBinding::default()
        .begin_sql_with(&tenant, &options)
        .unwrap();
    assert!(
        sql.find("app.user_id").unwrap() < sql.find("app.tenant_id").unwrap(),
        "{sql}"
    );
}

#[test]
fn temporary_tables_go_last_unless_trusted_revoked() {
    let tenant = crate::Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build();
    let sql = TenantBinding::default().begin_sql(&tenant).unwrap();
    assert!(sql.ends_with(TEMP_LAST_SQL), "{sql}");
    let sql = TenantBinding::default()
        .dangerous_trust_temporary_revoked()
        .begin_sql(&tenant)
        .unwrap();
    assert!(!sql.contains("pg_temp"), "{sql}");
}

#[test]
fn a_moving_tenant_reads_only_and_a_suspended_one_not_at_all() {
    use crate::{TenantError, TenantStatus};
    let tenant = |status| {
        crate::Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap())
            .status(status)
            .build()
    };
    let binding = TenantBinding::default();
    let active = binding.begin_sql(&tenant(TenantStatus::Active)).unwrap();
    assert!(active.starts_with("BEGIN;"), "{active}");
    let moving = binding.begin_sql(&tenant(TenantStatus::Moving)).unwrap();
    assert!(moving.starts_with("BEGIN READ ONLY;"), "{moving}");
    let serializable = TxOptions::default().isolation(IsolationLevel::Serializable);
    let moving = binding
        .begin_sql_with(&tenant(TenantStatus::Moving), &serializable)
        .unwrap();
    assert!(
        moving.starts_with("BEGIN ISOLATION LEVEL SERIALIZABLE READ ONLY;"),
        "{moving}"
    );
    assert!(matches!(
        binding.begin_sql(&tenant(TenantStatus::Suspended)),
        Err(TenantError::Inactive {
            status: "suspended",
            ..
        })
    ));
}

#[test]
fn retrofit_adds_backfills_then_enforces() {
    let owner = TenantId::new_v4();
    let sql = TenantPolicy::new("legacy").unwrap().retrofit_sql(&owner);
    let add = sql.find("ADD COLUMN").unwrap();
    let fill = sql.find(&format!("'{owner}'")).unwrap();
    let not_null = sql.find("SET NOT NULL").unwrap();
    assert!(add < fill && fill < not_null, "{sql}");
}

#[test]
fn getters_return_what_was_configured() {
    let setting = SettingName::new("myapp.tenant").unwrap();
    let policy = TenantPolicy::new("orders")
        .unwrap()
        .with_setting(setting.clone())
        .with_id_type(IdSqlType::BigInt);
    assert_eq!(policy.setting(), &setting);
    assert_eq!(policy.id_type(), IdSqlType::BigInt);
    assert_eq!(
        TenantBinding::default()
            .with_setting(setting.clone())
            .setting(),
        &setting
    );
    let options = TxOptions::default()
        .setting("app.user_id", "o'neil")
        .unwrap()
        .setting("statement_timeout", "5s")
        .unwrap();
    assert_eq!(
        options.settings().collect::<Vec<_>>(),
        [("app.user_id", "o'neil"), ("statement_timeout", "5s")]
    );
}

#[test]
fn bounded_names_cut_on_a_character_and_keep_what_fits() {
    // Multibyte text: the cut moves back to a character boundary, and the
    // result stays within 63 bytes.
    for name in [
        "é".repeat(40),
        format!("a{}", "é".repeat(40)),
        "漢".repeat(30),
    ] {
        let bounded = bounded_name(&name);
        assert!(bounded.len() <= MAX_IDENT_LEN, "{bounded:?}");
        let kept = bounded.rsplit_once('_').unwrap().0;
        assert!(name.starts_with(kept), "{bounded:?}");
        assert!(kept.len() > MAX_IDENT_LEN - 9 - 3, "{bounded:?}");
    }
}

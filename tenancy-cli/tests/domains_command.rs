//! `tenancy domains` against real PostgreSQL and a real DNS server on
//! 127.0.0.1: add prints the proof to publish, verify finds it (exit 1
//! until then), list and remove by tenant slug; a domain has one tenant;
//! bad input and unreachable databases are exit code 2.

#![allow(clippy::unwrap_used)] // test helpers

mod common;

use common::{tenancy, text};
use sqlx::PgPool;
use tenancy_core::{Tenant, TenantId};
use tenancy_sqlx::PgTenantStore;
use tenancy_testing::dns::DnsServer;

/// Runs `tenancy ARGS` off the runtime, so the DNS server keeps answering.
async fn run(args: Vec<String>) -> std::process::Output {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        tenancy(&args)
    })
    .await
    .unwrap()
}

fn args(parts: &[&str]) -> Vec<String> {
    parts.iter().map(|s| (*s).to_owned()).collect()
}

/// A database with the tenants and domains tables, tenants acme and
/// globex, and a DNS server.
async fn world() -> (tenancy_testing::TestDatabase, Tenant, DnsServer) {
    let db = tenancy_testing::test_database();
    let schema = tenancy(&["domains", "schema"]);
    assert_eq!(schema.status.code(), Some(0), "{}", text(&schema));
    db.owner_sql(&String::from_utf8(schema.stdout).unwrap())
        .unwrap();
    let owner = PgPool::connect(db.owner_url()).await.unwrap();
    let tenants = PgTenantStore::new(owner);
    db.owner_sql(&tenants.create_table_sql()).unwrap();
    let acme = Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build();
    let globex = Tenant::builder(TenantId::new_v4(), "globex".parse().unwrap()).build();
    tenants.insert(&acme, None).await.unwrap();
    tenants.insert(&globex, None).await.unwrap();
    (db, acme, DnsServer::start().await.unwrap())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_domain_is_added_proven_listed_and_removed() {
    let (db, acme, dns) = world().await;
    let url = db.owner_url();
    let ns = dns.addr().to_string();

    let out = run(args(&[
        "domains",
        "add",
        "--database-url",
        url,
        "--tenant",
        "acme",
        "Orders.Acme-Corp.com.",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let shown = text(&out);
    assert!(shown.contains("orders.acme-corp.com is pending"), "{shown}");
    assert!(
        shown.contains("_tenancy-challenge.orders.acme-corp.com TXT \"tenancy-verification="),
        "{shown}"
    );
    let out = run(args(&[
        "domains",
        "list",
        "--database-url",
        url,
        "--tenant",
        &acme.id().to_string(),
        "--json",
    ]))
    .await;
    let listed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(listed[0]["status"], "pending");
    let txt = listed[0]["txt_value"].as_str().unwrap().to_owned();

    // Not proven yet: exit 1, with what is missing.
    let verify = args(&[
        "domains",
        "verify",
        "--database-url",
        url,
        "--nameserver",
        &ns,
        "orders.acme-corp.com",
    ]);
    let out = run(verify.clone()).await;
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("no TXT record"), "{}", text(&out));

    dns.set_txt("_tenancy-challenge.orders.acme-corp.com", &[&txt]);
    let out = run(verify).await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("verified"), "{}", text(&out));

    // Another tenant cannot take it.
    let out = run(args(&[
        "domains",
        "add",
        "--database-url",
        url,
        "--tenant",
        "globex",
        "orders.acme-corp.com",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("already belongs to another tenant"),
        "{}",
        text(&out)
    );
    assert!(
        !text(&out).contains(&acme.id().to_string()),
        "{}",
        text(&out)
    );

    // A re-check after the record is gone fails the domain.
    dns.remove("_tenancy-challenge.orders.acme-corp.com");
    let out = run(args(&[
        "domains",
        "reverify",
        "--database-url",
        url,
        "--nameserver",
        &ns,
        "--every",
        "0",
        "--json",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let changed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(changed[0]["status"], "failed");

    let out = run(args(&[
        "domains",
        "remove",
        "--database-url",
        url,
        "--tenant",
        "acme",
        "orders.acme-corp.com",
    ]))
    .await;
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let out = run(args(&["domains", "list", "--database-url", url, "--json"])).await;
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "[]");
}

#[test]
fn bad_domains_tenants_and_databases_are_exit_code_two_with_the_reason() {
    let db = tenancy_testing::test_database();
    let url = db.owner_url();
    for (domain, reason) in [
        ("shop.localhost", "never resolve publicly"),
        ("localhost", "at least two labels"),
        ("10.0.0.1", "an IP address is not a domain"),
        ("shop.acme-corp.com:8080", "no spaces, ports"),
        ("bad-.acme-corp.com", "letters, digits and inner hyphens"),
    ] {
        let out = tenancy(&[
            "domains",
            "add",
            "--database-url",
            url,
            "--tenant",
            "acme",
            domain,
        ]);
        assert_eq!(out.status.code(), Some(2), "{domain}: {}", text(&out));
        assert!(text(&out).contains(reason), "{domain}: {}", text(&out));
    }
    let schema = tenancy(&["domains", "schema"]);
    db.owner_sql(&String::from_utf8(schema.stdout).unwrap())
        .unwrap();
    let out = tenancy(&[
        "domains",
        "add",
        "--database-url",
        url,
        "--tenant",
        "nobody",
        "shop.example.com",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        text(&out).contains("tenancy_tenants"),
        "the missing tenants table is named: {}",
        text(&out)
    );
    let out = tenancy(&[
        "domains",
        "list",
        "--database-url",
        "postgres://nobody@127.0.0.1:1/none",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).starts_with("tenancy domains:"), "{}", text(&out));
}

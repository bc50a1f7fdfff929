//! Custom domains against real servers: a DNS server on 127.0.0.1 (the
//! harness's, speaking the wire protocol to hickory's resolver), an HTTP
//! server for the token, PostgreSQL for the store, and the tower layer
//! answering requests by `Host`. A domain resolves to its tenant only once
//! verified, and stops when its proof goes away.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use sqlx::PgPool;
use tenancy_core::{InMemoryTenantStore, Tenant, TenantContext, TenantId, TenantKey, TenantStore};
use tenancy_domains::{
    Checked, DomainError, DomainName, DomainResolver, DomainStatus, DomainStore, DomainVerifier,
    Proof, TlsStatus, VerifiedDomains,
};
use tenancy_testing::TestDatabase;
use tenancy_testing::dns::DnsServer;
use tenancy_tower::TenantLayer;
use tenancy_tower::strategy::CustomDomain;
use tower::{Layer, ServiceExt};

struct World {
    _db: TestDatabase,
    store: DomainStore,
    tenants: InMemoryTenantStore,
    acme: Tenant,
    globex: Tenant,
    dns: DnsServer,
    verifier: DomainVerifier,
}

async fn world() -> World {
    let db = tenancy_testing::test_database();
    let pool = PgPool::connect(db.owner_url()).await.unwrap();
    let store = DomainStore::new(pool);
    sqlx::raw_sql(sqlx::AssertSqlSafe(store.create_table_sql()))
        .execute(store.pool())
        .await
        .unwrap();
    let tenants = InMemoryTenantStore::new();
    let tenant = |slug: &str| {
        let t = Tenant::builder(TenantId::new_v4(), slug.parse().unwrap()).build();
        tenants.insert(t.clone());
        t
    };
    let (acme, globex) = (tenant("acme"), tenant("globex"));
    let dns = DnsServer::start().await.unwrap();
    let verifier = DomainVerifier::new(DomainResolver::nameserver(dns.addr()).unwrap());
    World {
        _db: db,
        store,
        tenants,
        acme,
        globex,
        dns,
        verifier,
    }
}

fn name(domain: &str) -> DomainName {
    domain.parse().unwrap()
}

/// The app behind the tenant layer, resolving custom domains through the
/// verified domains only; answers with the tenant's slug.
async fn request(w: &World, host: &str) -> (StatusCode, String) {
    let store = VerifiedDomains::new(w.store.clone(), w.tenants.clone());
    // Slugs and ids answer from the inner store's memory; a domain never
    // does (it must be checked against the verified domains).
    assert!(
        store
            .lookup_now(&TenantKey::Slug(w.acme.slug().clone()))
            .is_some()
    );
    assert!(
        store
            .lookup_now(&TenantKey::Domain(host.to_ascii_lowercase().into()))
            .is_none()
    );
    let app = TenantLayer::builder(store)
        .strategy(CustomDomain::new().except(["saas.example"]))
        .build()
        .layer(Router::new().route(
            "/",
            get(|| async { TenantContext::current().unwrap().slug().to_string() }),
        ));
    let response = app
        .oneshot(
            Request::get("/")
                .header("host", host)
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_domain_resolves_only_once_its_txt_record_proves_it_and_stops_when_it_goes() {
    let w = world().await;
    let domain = name("orders.acme-corp.com");
    let added = w.store.add(&w.acme.id(), &domain).await.unwrap();
    assert_eq!(added.status, DomainStatus::Pending);
    assert_eq!(added.token.len(), 64);
    assert_eq!(
        request(&w, "orders.acme-corp.com").await.0,
        StatusCode::NOT_FOUND
    );

    // No record, then a record with another token: still pending.
    let checked = w.store.verify(&domain, &w.verifier).await.unwrap();
    assert_eq!(checked.status, DomainStatus::Pending);
    assert!(
        checked
            .failure
            .as_deref()
            .unwrap()
            .contains("no TXT record at _tenancy-challenge.orders.acme-corp.com"),
        "{checked:?}"
    );
    w.dns.set_txt(
        &domain.challenge_name(),
        &["tenancy-verification=someone-elses-token"],
    );
    let checked = w.store.verify(&domain, &w.verifier).await.unwrap();
    assert_eq!(checked.status, DomainStatus::Pending);
    assert!(checked.failure.unwrap().contains("does not hold"));
    assert_eq!(
        request(&w, "orders.acme-corp.com").await.0,
        StatusCode::NOT_FOUND
    );

    // The right record (among others): verified, and requests reach acme.
    w.dns.set_txt(
        &domain.challenge_name(),
        &["v=spf1 -all", &added.txt_value()],
    );
    assert_eq!(
        w.verifier.check(&domain, &added.token).await.unwrap(),
        Checked::Proven(Proof::DnsTxt)
    );
    let verified = w.store.verify(&domain, &w.verifier).await.unwrap();
    assert_eq!(verified.status, DomainStatus::Verified);
    assert!(verified.verified_at.is_some() && verified.failure.is_none());
    assert_eq!(
        w.store.verified_tenant(domain.as_str()).await.unwrap(),
        Some(w.acme.id())
    );
    assert_eq!(
        request(&w, "orders.acme-corp.com").await,
        (StatusCode::OK, "acme".to_owned())
    );
    assert_eq!(
        request(&w, "ORDERS.Acme-Corp.com.:443").await,
        (StatusCode::OK, "acme".to_owned())
    );

    // A re-check after the record is gone: failed, and a 404 again.
    w.dns.remove(&domain.challenge_name());
    let unchanged = w
        .store
        .reverify_due(&w.verifier, Duration::from_hours(1))
        .await
        .unwrap();
    assert!(
        unchanged.is_empty(),
        "checked less than an hour ago: not due"
    );
    let changed = w
        .store
        .reverify_due(&w.verifier, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(changed.len(), 1);
    assert_eq!(changed[0].status, DomainStatus::Failed);
    assert_eq!(
        request(&w, "orders.acme-corp.com").await.0,
        StatusCode::NOT_FOUND
    );
    // And back when the record is.
    w.dns
        .set_txt(&domain.challenge_name(), &[&added.txt_value()]);
    let changed = w
        .store
        .reverify_due(&w.verifier, Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(changed[0].status, DomainStatus::Verified);
    assert_eq!(request(&w, "orders.acme-corp.com").await.1, "acme");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_domain_has_one_spelling_and_one_tenant() {
    let w = world().await;
    let added = w
        .store
        .add(&w.acme.id(), &name("Shop.Café.Example."))
        .await
        .unwrap();
    assert_eq!(added.domain.as_str(), "shop.xn--caf-dma.example");
    // The same domain in another spelling is the same row, unchanged.
    let again = w
        .store
        .add(&w.acme.id(), &name("shop.xn--caf-dma.example"))
        .await
        .unwrap();
    assert_eq!(again.token, added.token);
    // Another tenant cannot take it, in any spelling, and is not told whose it is.
    let err = w
        .store
        .add(&w.globex.id(), &name("SHOP.café.example"))
        .await
        .unwrap_err();
    assert!(matches!(err, DomainError::Taken(_)), "{err}");
    assert!(!err.to_string().contains("acme"));
    // Nor remove it.
    assert!(!w.store.remove(&w.globex.id(), &added.domain).await.unwrap());
    assert_eq!(w.store.list(Some(&w.globex.id())).await.unwrap(), []);
    assert_eq!(w.store.list(None).await.unwrap().len(), 1);
    // Verifying globex's claim with acme's proof is impossible: the token
    // belongs to the row, and the row to acme.
    w.dns
        .set_txt(&added.domain.challenge_name(), &[&added.txt_value()]);
    let verified = w.store.verify(&added.domain, &w.verifier).await.unwrap();
    assert_eq!(verified.tenant, w.acme.id());
    assert!(w.store.remove(&w.acme.id(), &added.domain).await.unwrap());
    assert_eq!(
        w.store
            .verified_tenant(added.domain.as_str())
            .await
            .unwrap(),
        None
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_pending_domain_expires_after_its_window_and_can_still_be_proven_later() {
    let w = world().await;
    let store = w.store.clone().pending_for(Duration::ZERO);
    let domain = name("late.globex.net");
    let added = store.add(&w.globex.id(), &domain).await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert_eq!(
        store.verify(&domain, &w.verifier).await.unwrap().status,
        DomainStatus::Expired
    );
    assert_eq!(
        request(&w, "late.globex.net").await.0,
        StatusCode::NOT_FOUND
    );
    w.dns
        .set_txt(&domain.challenge_name(), &[&added.txt_value()]);
    assert_eq!(
        store.verify(&domain, &w.verifier).await.unwrap().status,
        DomainStatus::Verified
    );
    assert_eq!(request(&w, "late.globex.net").await.1, "globex");
}

#[tokio::test(flavor = "multi_thread")]
async fn one_primary_domain_per_tenant_and_only_a_verified_one() {
    let w = world().await;
    let (a, b) = (name("a.acme-corp.com"), name("b.acme-corp.com"));
    for d in [&a, &b] {
        let added = w.store.add(&w.acme.id(), d).await.unwrap();
        assert!(
            !w.store.set_primary(&w.acme.id(), d).await.unwrap(),
            "pending"
        );
        w.dns.set_txt(&d.challenge_name(), &[&added.txt_value()]);
        w.store.verify(d, &w.verifier).await.unwrap();
    }
    assert!(w.store.set_primary(&w.acme.id(), &a).await.unwrap());
    assert!(w.store.set_primary(&w.acme.id(), &b).await.unwrap());
    assert!(
        !w.store.set_primary(&w.globex.id(), &a).await.unwrap(),
        "not globex's"
    );
    let primaries: Vec<_> = w
        .store
        .list(Some(&w.acme.id()))
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.primary)
        .map(|d| d.domain)
        .collect();
    assert_eq!(primaries, std::slice::from_ref(&b));
    // The operator's certificate automation records its progress.
    assert!(w.store.set_tls_status(&b, TlsStatus::Issued).await.unwrap());
    assert_eq!(
        w.store.get(&b).await.unwrap().unwrap().tls,
        TlsStatus::Issued
    );
    // A primary domain whose proof fails is no longer primary.
    w.dns.remove(&b.challenge_name());
    w.store.verify(&b, &w.verifier).await.unwrap();
    assert!(!w.store.get(&b).await.unwrap().unwrap().primary);
}

/// Serves `body` at `path` on 127.0.0.1; returns the port.
async fn token_server(path: &str, body: &'static str) -> u16 {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let app = Router::new().route(path, get(move || async move { body }));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    port
}

#[tokio::test(flavor = "multi_thread")]
async fn an_http_token_proves_a_domain_but_private_addresses_are_not_fetched() {
    let w = world().await;
    let domain = name("shop.globex.net");
    let added = w.store.add(&w.globex.id(), &domain).await.unwrap();
    let token: &'static str = Box::leak(added.token.clone().into_boxed_str());
    assert_eq!(
        added.http_path(),
        format!("/.well-known/tenancy-challenge/{token}")
    );
    let port = token_server(&added.http_path(), token).await;
    w.dns
        .set_address(domain.as_str(), IpAddr::V4(Ipv4Addr::LOCALHOST));

    let resolver = || DomainResolver::nameserver(w.dns.addr()).unwrap();
    // By default the check never connects to a private address.
    let public_only = DomainVerifier::new(resolver()).with_http().http_port(port);
    let Checked::NotProven(why) = public_only.check(&domain, &added.token).await.unwrap() else {
        panic!("a domain on 127.0.0.1 was fetched");
    };
    assert!(why.contains("resolves only to private addresses"), "{why}");

    let http = DomainVerifier::new(resolver())
        .with_http()
        .http_port(port)
        .allow_private_addresses();
    assert_eq!(
        http.check(&domain, &added.token).await.unwrap(),
        Checked::Proven(Proof::HttpToken)
    );
    assert_eq!(
        w.store.verify(&domain, &http).await.unwrap().status,
        DomainStatus::Verified
    );

    // A server that answers something else at another token proves nothing.
    let other = "0".repeat(64);
    let wrong_port = token_server(
        &format!("/.well-known/tenancy-challenge/{other}"),
        "not the token",
    )
    .await;
    let wrong = DomainVerifier::new(resolver())
        .with_http()
        .http_port(wrong_port)
        .allow_private_addresses();
    let Checked::NotProven(why) = wrong.check(&domain, &other).await.unwrap() else {
        panic!("a wrong body proved a domain");
    };
    assert!(why.contains("does not serve the token"), "{why}");
    let Checked::NotProven(why) = wrong.check(&domain, &added.token).await.unwrap() else {
        panic!("a missing token proved a domain");
    };
    assert!(why.contains("404"), "{why}");

    // No address at all is a verdict; a failing lookup of the address is
    // an error that changes nothing.
    w.dns.remove(domain.as_str());
    let Checked::NotProven(why) = http.check(&domain, &added.token).await.unwrap() else {
        panic!("a domain without an address proved itself");
    };
    assert!(why.contains("has no address"), "{why}");
    w.dns.fail(domain.as_str());
    assert!(http.check(&domain, &added.token).await.is_err());
    w.dns
        .set_address(domain.as_str(), IpAddr::V4(Ipv4Addr::LOCALHOST));

    // At most 1 KiB of the body is read: exactly 1024 bytes are compared,
    // one more is refused unread.
    for (size, expected) in [
        (1024, "does not serve the token"),
        (1025, "more than 1024 bytes"),
    ] {
        let body: &'static str = Box::leak("x".repeat(size).into_boxed_str());
        let port = token_server(&added.http_path(), body).await;
        let big = DomainVerifier::new(resolver())
            .with_http()
            .http_port(port)
            .allow_private_addresses();
        let Checked::NotProven(why) = big.check(&domain, &added.token).await.unwrap() else {
            panic!("a body of {size} bytes proved a domain");
        };
        assert!(why.contains(expected), "{size}: {why}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_name_server_is_an_error_not_a_verdict() {
    let w = world().await;
    let domain = name("orders.acme-corp.com");
    w.store.add(&w.acme.id(), &domain).await.unwrap();
    // A port nothing answers on.
    let socket = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let silent =
        DomainVerifier::new(DomainResolver::nameserver(socket.local_addr().unwrap()).unwrap());
    let err = w.store.verify(&domain, &silent).await.unwrap_err();
    assert!(matches!(err, DomainError::Check(_)), "{err}");
    assert_eq!(
        w.store.get(&domain).await.unwrap().unwrap().status,
        DomainStatus::Pending,
        "an error changes nothing"
    );
}

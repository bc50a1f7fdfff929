//! Each strategy alone, with hostile inputs.

#![allow(
    clippy::unwrap_used,
    clippy::needless_pass_by_value,
    clippy::unnecessary_wraps
)] // test helpers

use http::request::Parts;
use http::{HeaderName, HeaderValue, Request};
use tenancy_core::TenantId;
use tenancy_tower::strategy::{CustomDomain, Header, PathPrefix, Subdomain};
use tenancy_tower::{TenantKey, TenantRejection};

/// The strategies as an application with UUID tenant ids calls them (every
/// strategy serves every id type, so the type is named once here).
trait UuidStrategy {
    fn identify(&self, parts: &Parts) -> Result<Option<TenantKey>, TenantRejection>;
    fn rewrite(&self, parts: &mut Parts);
}

impl<S: tenancy_tower::strategy::Strategy> UuidStrategy for S {
    fn identify(&self, parts: &Parts) -> Result<Option<TenantKey>, TenantRejection> {
        tenancy_tower::strategy::Strategy::identify(self, parts)
    }

    fn rewrite(&self, parts: &mut Parts) {
        tenancy_tower::strategy::Strategy::rewrite(self, parts);
    }
}

fn parts(build: impl FnOnce(http::request::Builder) -> http::request::Builder) -> Parts {
    build(Request::builder()).body(()).unwrap().into_parts().0
}

fn host(h: &'static str) -> Parts {
    parts(|b| b.header("host", h))
}

fn slug(s: &str) -> Option<TenantKey> {
    Some(TenantKey::Slug(s.parse().unwrap()))
}

fn is_malformed(result: Result<Option<TenantKey>, TenantRejection>) -> bool {
    matches!(result, Err(TenantRejection::Malformed { .. }))
}

#[test]
fn subdomain_reads_one_label_of_the_base_domain() {
    let s = Subdomain::of("Example.com.");
    assert_eq!(s.identify(&host("acme.example.com")).unwrap(), slug("acme"));
    assert_eq!(
        s.identify(&host("ACME.EXAMPLE.COM:8443")).unwrap(),
        slug("acme")
    );
    assert_eq!(
        s.identify(&host("acme.example.com.")).unwrap(),
        slug("acme")
    );
    assert_eq!(
        s.identify(&host("xn--caf-dma.example.com")).unwrap(),
        slug("xn--caf-dma")
    );
    // Not ours: no tenant, another strategy may try.
    for other in [
        "example.com",
        "www.example.com",
        "acme.example.org",
        "notexample.com",
        "127.0.0.1:80",
        "[::1]:3000",
    ] {
        assert_eq!(s.identify(&host(other)).unwrap(), None, "{other}");
    }
    assert_eq!(s.identify(&parts(|b| b)).unwrap(), None, "no host at all");
    // Ambiguous or malformed: 400.
    for bad in [
        "a.b.example.com",
        "-acme.example.com",
        "ac_me.example.com",
        "acme.example.com:99999",
        "acme..example.com",
    ] {
        assert!(is_malformed(s.identify(&host(bad))), "{bad}");
    }
    let localhost = Subdomain::of("localhost");
    assert_eq!(
        localhost.identify(&host("acme.localhost:3000")).unwrap(),
        slug("acme")
    );
    assert_eq!(localhost.identify(&host("localhost:3000")).unwrap(), None);
}

#[test]
fn subdomain_rejects_duplicate_and_binary_hosts() {
    let s = Subdomain::of("example.com");
    let dup = parts(|b| {
        b.header("host", "acme.example.com")
            .header("host", "globex.example.com")
    });
    assert!(is_malformed(s.identify(&dup)));
    let mut binary = host("x");
    binary.headers.insert(
        "host",
        HeaderValue::from_bytes(b"acme\xff.example.com").unwrap(),
    );
    assert!(is_malformed(s.identify(&binary)));
}

#[test]
fn subdomain_uses_the_authority_when_there_is_no_host_header() {
    let s = Subdomain::of("example.com");
    let p = parts(|b| b.uri("https://acme.example.com/orders"));
    assert_eq!(s.identify(&p).unwrap(), slug("acme"));
}

#[test]
fn custom_domain_takes_whole_hosts_except_ours() {
    let c = CustomDomain::new().except(["example.com"]);
    assert_eq!(
        c.identify(&host("Orders.Acme-Corp.com:443")).unwrap(),
        Some(TenantKey::Domain("orders.acme-corp.com".into()))
    );
    for ours in [
        "example.com",
        "acme.example.com",
        "localhost:8080",
        "acme.localhost",
        "10.0.0.1",
    ] {
        assert_eq!(c.identify(&host(ours)).unwrap(), None, "{ours}");
    }
}

#[test]
fn header_takes_a_slug_or_an_id_and_nothing_else() {
    let h = Header::x_tenant();
    let id = TenantId::new_v4();
    let with = |v: &str| {
        let mut p = parts(|b| b);
        p.headers
            .insert("x-tenant", HeaderValue::from_str(v).unwrap());
        p
    };
    assert_eq!(h.identify(&with("acme")).unwrap(), slug("acme"));
    assert_eq!(
        h.identify(&with(&id.to_string())).unwrap(),
        Some(TenantKey::Id(id))
    );
    assert_eq!(h.identify(&parts(|b| b)).unwrap(), None);
    for bad in ["", "acme corp", "acme'--", "../acme", &"a".repeat(200)] {
        assert!(is_malformed(h.identify(&with(bad))), "{bad:?}");
    }
    let dup = parts(|b| b.header("x-tenant", "acme").header("x-tenant", "globex"));
    assert!(is_malformed(h.identify(&dup)));
    let mut binary = parts(|b| b);
    binary
        .headers
        .insert("x-tenant", HeaderValue::from_bytes(b"ac\xffme").unwrap());
    assert!(is_malformed(h.identify(&binary)));
    let custom = Header::named(HeaderName::from_static("x-org"));
    assert_eq!(
        custom
            .identify(&parts(|b| b.header("x-org", "acme")))
            .unwrap(),
        slug("acme")
    );
}

/// A header value may carry padding up to 128 bytes in all; a longer one is
/// refused before it is read, and the 400 says why.
#[test]
fn header_values_are_bounded_at_128_bytes() {
    let h = Header::x_tenant();
    let with = |v: &str| parts(|b| b.header("x-tenant", HeaderValue::from_str(v).unwrap()));
    let padded = |len: usize| format!("{:>len$}", "acme");
    assert_eq!(h.identify(&with(&padded(128))).unwrap(), slug("acme"));
    let rejection = h.identify(&with(&padded(129))).unwrap_err();
    assert_eq!(
        rejection.reason(),
        "Malformed tenant (header): the x-tenant header is too long",
        "{rejection:?}"
    );
}

#[test]
fn header_reads_ids_of_the_applications_id_type() {
    use tenancy_tower::strategy::Strategy;
    let h = Header::x_tenant();
    let with = |v: &str| parts(|b| b.header("x-tenant", v));
    let bigint = |v: &str| Strategy::<i64>::identify(&h, &with(v));
    assert_eq!(
        bigint("42").unwrap(),
        Some(TenantKey::Id(TenantId::new(42_i64).unwrap()))
    );
    assert_eq!(
        bigint("acme").unwrap(),
        Some(TenantKey::Slug("acme".parse().unwrap()))
    );
    // Digits that are no valid id are a 400, never a lookup and never a 500.
    for bad in ["0", "99999999999999999999"] {
        let rejection = bigint(bad).unwrap_err();
        assert!(is_malformed(Err(rejection.clone())), "{bad}: {rejection:?}");
        assert!(
            rejection.reason().contains("positive whole number"),
            "{}",
            rejection.reason()
        );
    }
    // A UUID is no bigint id: it is read as a slug (and then not found, 404).
    assert!(matches!(
        bigint(&TenantId::new_v4().to_string()),
        Ok(Some(TenantKey::Slug(_)))
    ));
    let text = |v: &str| Strategy::<String>::identify(&h, &with(v));
    assert_eq!(
        text("Acme-Corp").unwrap(),
        Some(TenantKey::Id(
            TenantId::new("Acme-Corp".to_owned()).unwrap()
        ))
    );
    assert!(text("acme:corp").is_err());
}

#[test]
fn path_prefix_reads_and_strips_the_segment() {
    let p = PathPrefix::new("/t/").strip();
    let mut req = parts(|b| b.uri("/t/acme/orders/42?page=2"));
    assert_eq!(p.identify(&req).unwrap(), slug("acme"));
    p.rewrite(&mut req);
    assert_eq!(req.uri.path(), "/orders/42");
    assert_eq!(req.uri.query(), Some("page=2"));

    let mut root = parts(|b| b.uri("/t/acme"));
    assert_eq!(p.identify(&root).unwrap(), slug("acme"));
    p.rewrite(&mut root);
    assert_eq!(root.uri.path(), "/");

    for other in ["/", "/orders", "/tenants/acme", "/tx/acme"] {
        assert_eq!(
            p.identify(&parts(|b| b.uri(other))).unwrap(),
            None,
            "{other}"
        );
    }
    for bad in [
        "/t",
        "/t/",
        "/t//orders",
        "/t/../orders",
        "/t/%61cme/orders",
        "/t/ACME_1/x",
    ] {
        assert!(is_malformed(p.identify(&parts(|b| b.uri(bad)))), "{bad}");
    }
}

/// A malformed key's rejection names the strategy that read it.
#[test]
fn malformed_keys_name_their_strategy() {
    let reason = |result: Result<Option<TenantKey>, TenantRejection>| result.unwrap_err().reason();
    let bad_host = host("ac me.example.com");
    assert_eq!(
        reason(Subdomain::of("example.com").identify(&bad_host)),
        "Malformed tenant (subdomain): the host contains characters a DNS name cannot have"
    );
    assert_eq!(
        reason(CustomDomain::new().identify(&bad_host)),
        "Malformed tenant (custom domain): the host contains characters a DNS name cannot have"
    );
    let bad_path = parts(|b| b.uri("/t/Ac_me/orders"));
    let path = reason(PathPrefix::new("/t").identify(&bad_path));
    assert!(path.starts_with("Malformed tenant (path): "), "{path}");
    let bad_header = parts(|b| b.header("x-tenant", "acme corp"));
    let header = reason(Header::x_tenant().identify(&bad_header));
    assert!(
        header.starts_with("Malformed tenant (header): "),
        "{header}"
    );
}

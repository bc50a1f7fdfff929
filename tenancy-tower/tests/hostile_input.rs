//! Property test: hostile hosts, headers and paths never panic, never get a
//! 5xx, and never resolve a tenant the input did not name.

#![allow(
    clippy::unwrap_used,
    clippy::needless_pass_by_value,
    clippy::unnecessary_wraps
)] // test helpers

use axum::Router;
use axum::body::Body;
use axum::routing::any as any_method;
use http::Request;
use http_body_util::BodyExt;
use proptest::prelude::*;
use tenancy_core::{InMemoryTenantStore, Tenant, TenantId};
use tenancy_tower::strategy::{CustomDomain, Header, PathPrefix, Subdomain};
use tenancy_tower::{CurrentTenant, TenantLayer};
use tower::ServiceExt;

fn app() -> Router {
    let store = InMemoryTenantStore::new();
    for slug in ["acme", "globex"] {
        store.insert(Tenant::builder(TenantId::new_v4(), slug.parse().unwrap()).build());
    }
    store.add_domain("shop.acme.test", TenantId::new_v4());
    let layer = TenantLayer::builder(store)
        .strategy(Subdomain::of("example.com"))
        .strategy(Header::x_tenant())
        .strategy(PathPrefix::new("/t").strip())
        .strategy(CustomDomain::new().except(["example.com"]))
        .build();
    Router::new()
        .fallback(any_method(|CurrentTenant(t): CurrentTenant| async move {
            t.slug().to_string()
        }))
        .layer(layer)
}

fn hostile_text() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        // Near-valid hosts and slugs, mutated.
        "[a-zA-Z0-9.:_\\-\\[\\]@%/ ]{0,40}".prop_map(String::into_bytes),
        "(acme|globex|ACME|www|a\\.b|\\.\\.|xn--caf-dma)(\\.example\\.com)?(:[0-9]{0,6})?\\.?"
            .prop_map(String::into_bytes),
        // Arbitrary bytes, including non-UTF-8 and control characters.
        proptest::collection::vec(any::<u8>(), 0..80),
        // Overlong.
        (200usize..400).prop_map(|n| vec![b'a'; n]),
    ]
}

fn hostile_path() -> impl Strategy<Value = String> {
    prop_oneof![
        "/t/[a-zA-Z0-9%._\\-]{0,20}(/[a-z]{0,5})?",
        "/[a-zA-Z0-9%./_\\-]{0,30}",
        Just("/t".to_owned()),
        Just("/t/../acme".to_owned()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn hostile_requests_never_panic_never_5xx_never_invent_a_tenant(
        host in hostile_text(),
        header in proptest::option::of(hostile_text()),
        path in hostile_path(),
    ) {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let mut builder = Request::builder().uri(path.as_str());
        if let Ok(value) = http::HeaderValue::from_bytes(&host) {
            builder = builder.header("host", value);
        }
        if let Some(Ok(value)) = header.as_deref().map(http::HeaderValue::from_bytes) {
            builder = builder.header("x-tenant", value);
        }
        let Ok(request) = builder.body(Body::empty()) else {
            return Ok(()); // http itself refused to build it (invalid URI)
        };
        let (status, body) = runtime.block_on(async {
            let response = app().oneshot(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        });
        prop_assert!(!status.is_server_error(), "{status} for host {host:?}: {body}");
        if status.is_success() {
            // The resolved tenant must be named somewhere in the input.
            let named = String::from_utf8_lossy(&host).to_ascii_lowercase()
                + &String::from_utf8_lossy(header.as_deref().unwrap_or_default()).to_ascii_lowercase()
                + &path.to_ascii_lowercase();
            prop_assert!(named.contains(body.as_str()), "resolved {body} from {named:?}");
        } else {
            prop_assert!(status.is_client_error(), "{status}");
        }
    }
}

/// How a well-formed request names its tenant.
#[derive(Debug, Clone, Copy)]
enum Source {
    Subdomain,
    Header,
    Path,
}

fn request_naming(named: &[(Source, &str)], upper: bool, port: bool) -> Request<Body> {
    let case = |slug: &str| {
        if upper {
            slug.to_ascii_uppercase()
        } else {
            slug.to_owned()
        }
    };
    let port = if port { ":8443" } else { "" };
    let mut host = format!("example.com{port}");
    let mut path = "/orders".to_owned();
    let mut builder = Request::builder();
    for (source, slug) in named {
        match source {
            Source::Subdomain => host = format!("{}.example.com{port}", case(slug)),
            Source::Header => builder = builder.header("x-tenant", case(slug)),
            Source::Path => path = format!("/t/{}/orders", case(slug)),
        }
    }
    builder
        .uri(path)
        .header("host", host)
        .body(Body::empty())
        .unwrap()
}

fn source() -> impl Strategy<Value = Source> {
    prop_oneof![
        Just(Source::Subdomain),
        Just(Source::Header),
        Just(Source::Path)
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, failure_persistence: None, ..ProptestConfig::default() })]

    /// Well-formed requests that name real tenants, through one or two
    /// sources, in any case, with or without a port: one tenant named
    /// (however often) resolves exactly that tenant; two different tenants
    /// named is a 400, never either of them.
    #[test]
    fn real_tenants_resolve_exactly_as_named(
        first in (source(), prop_oneof![Just("acme"), Just("globex")]),
        second in proptest::option::of((source(), prop_oneof![Just("acme"), Just("globex")])),
        upper in any::<bool>(),
        port in any::<bool>(),
    ) {
        // Two sources of the same kind: the second would overwrite the first.
        let second = second.filter(|(s, _)| std::mem::discriminant(s) != std::mem::discriminant(&first.0));
        let named: Vec<(Source, &str)> = std::iter::once(first).chain(second).collect();
        let request = request_naming(&named, upper, port);
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (status, body) = runtime.block_on(async {
            let response = app().oneshot(request).await.unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        });
        if named.iter().all(|(_, slug)| *slug == first.1) {
            prop_assert_eq!(status, http::StatusCode::OK, "{:?}: {}", named, body);
            prop_assert_eq!(body.as_str(), first.1);
        } else {
            prop_assert_eq!(status, http::StatusCode::BAD_REQUEST, "{:?}: {}", named, body);
            prop_assert!(body != "acme" && body != "globex", "the handler ran for {body}");
        }
    }
}

//! What a tracing subscriber sees of a request through `TenantLayer`: the
//! handler's events inside a `tenant` span with the tenant's id and slug, and
//! the id recorded into the caller's request span that declared the field.

#![allow(clippy::unwrap_used)] // test code

use std::convert::Infallible;
use std::io::Write;
use std::sync::{Arc, Mutex};

use http::{Request, Response};
use tenancy_core::{InMemoryTenantStore, Tenant, TenantId};
use tenancy_tower::TenantLayer;
use tenancy_tower::strategy::Header;
use tower::{Layer, ServiceExt, service_fn};
use tracing::Instrument;

/// Everything the subscriber writes, shared with the test.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

#[test]
fn handler_events_carry_the_tenant_and_the_request_span_gets_its_id() {
    let acme = Tenant::builder(TenantId::new_v4(), "acme".parse().unwrap()).build();
    let store = InMemoryTenantStore::new();
    store.insert(acme.clone());
    let service = TenantLayer::builder(store)
        .strategy(Header::x_tenant())
        .build()
        .layer(service_fn(|_: Request<String>| async {
            tracing::info!("handled");
            Ok::<_, Infallible>(Response::new(String::new()))
        }));

    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    tracing::subscriber::with_default(subscriber, || {
        runtime.block_on(async {
            let request = Request::get("/")
                .header("x-tenant", "acme")
                .body(String::new())
                .unwrap();
            let span = tracing::info_span!("request", tenant.id = tracing::field::Empty);
            let response = service.oneshot(request).instrument(span).await.unwrap();
            assert_eq!(response.status(), http::StatusCode::OK);
        });
    });

    let text = captured.text();
    let line = text
        .lines()
        .find(|l| l.contains("handled"))
        .unwrap_or_else(|| panic!("no event from the handler in {text:?}"));
    let id = acme.id().to_string();
    assert!(
        line.contains(&format!("request{{tenant.id={id}}}")),
        "the request span got the id: {line}"
    );
    assert!(
        line.contains(&format!("tenant{{tenant.id={id} tenant.slug=acme}}")),
        "the handler ran in the tenant span: {line}"
    );
}

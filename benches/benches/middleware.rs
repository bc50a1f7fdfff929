//! What `TenantLayer` adds to a request: time (criterion) and heap
//! allocations (a counting allocator), against the same service without it,
//! both around a bare tower service and inside an axum `Router`.

#![allow(unsafe_code)] // CountingAllocator: a GlobalAlloc that delegates to System and counts.

use std::alloc::{GlobalAlloc, Layout, System};
use std::convert::Infallible;
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering};

use axum::Router;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use tenancy_core::CachedTenantStore;
use tenancy_core::{
    InMemoryTenantStore, Lookup, StoreError, Tenant, TenantId, TenantKey, TenantSlug, TenantStore,
    TenantStoreExt,
};
use tenancy_metering::{MeterLayer, TenantLabels, UsageLedger};
use tenancy_tower::TenantLayer;
use tenancy_tower::strategy::{Header, Subdomain};
use tower::{Layer, Service, ServiceExt, service_fn};

struct CountingAllocator;

static ALLOCATIONS: AtomicU64 = AtomicU64::new(0);

// SAFETY: every call is forwarded unchanged to the system allocator; the
// only addition is a relaxed counter increment.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: CountingAllocator = CountingAllocator;

type Inner = tower::util::ServiceFn<
    fn(Request<String>) -> std::future::Ready<Result<Response<String>, Infallible>>,
>;

fn inner() -> Inner {
    fn handle(_: Request<String>) -> std::future::Ready<Result<Response<String>, Infallible>> {
        std::future::ready(Ok(Response::new(String::new())))
    }
    service_fn(handle as fn(_) -> _)
}

/// Tenants that are only answered asynchronously, as from `PgTenantStore`:
/// every answer the layer gets without awaiting is a cache hit.
struct Database(InMemoryTenantStore);

#[async_trait::async_trait]
impl TenantStore for Database {
    async fn lookup(&self, key: &TenantKey) -> Result<Lookup, StoreError> {
        self.0.lookup(key).await
    }
}

fn layer() -> TenantLayer {
    let store = InMemoryTenantStore::new();
    store.insert(
        Tenant::builder(
            TenantId::new_v4(),
            "acme".parse().unwrap_or_else(|_| unreachable!()),
        )
        .build(),
    );
    TenantLayer::builder(CachedTenantStore::new(Database(store)))
        .strategy(Subdomain::of("example.com"))
        .strategy(Header::x_tenant())
        .build()
}

/// An axum app with one route; `Router::layer` runs the layer after routing,
/// as most apps apply it. Any layer applied so costs axum a boxed route and
/// a boxed future per request, hence the case with a layer that does nothing.
fn router() -> Router {
    Router::new().route("/orders", get(|| async { "" }))
}

/// A layer that only passes requests on: what axum charges for any layer.
#[derive(Clone)]
struct PassThrough;

impl<S> Layer<S> for PassThrough {
    type Service = PassThroughService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        PassThroughService(inner)
    }
}

#[derive(Clone)]
struct PassThroughService<S>(S);

impl<S: Service<R>, R> Service<R> for PassThroughService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;
    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }
    fn call(&mut self, request: R) -> Self::Future {
        self.0.call(request)
    }
}

fn by_header() -> Request<String> {
    Request::builder()
        .uri("/orders")
        .header("x-tenant", "acme")
        .body(String::new())
        .unwrap_or_default()
}

fn by_subdomain() -> Request<String> {
    Request::builder()
        .uri("/orders")
        .header("host", "acme.example.com")
        .body(String::new())
        .unwrap_or_default()
}

/// Allocations per request (excluding building the request), averaged.
fn allocations<S, B>(
    rt: &tokio::runtime::Runtime,
    service: &S,
    make: fn() -> Request<String>,
) -> f64
where
    S: Service<Request<String>, Response = Response<B>> + Clone,
{
    const N: u64 = 10_000;
    let requests: Vec<_> = (0..N).map(|_| make()).collect();
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    serve(rt, service, requests);
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / N as f64
}

/// Serves `requests` one after the other.
fn serve<S, B>(rt: &tokio::runtime::Runtime, service: &S, requests: Vec<Request<String>>)
where
    S: Service<Request<String>, Response = Response<B>> + Clone,
{
    rt.block_on(async {
        for request in requests {
            let _ = black_box(service.clone().oneshot(request).await.ok());
        }
    });
}

/// [`serve`], in a function of its own: callgrind counts the instructions
/// inside it (`--toggle-collect`, scripts/instructions.sh).
#[inline(never)]
fn counted_requests<S, B>(rt: &tokio::runtime::Runtime, service: &S, requests: Vec<Request<String>>)
where
    S: Service<Request<String>, Response = Response<B>> + Clone,
{
    serve(rt, service, requests);
}

/// Nanoseconds per request of `service` over `requests`.
async fn block<S, B>(service: &S, requests: Vec<Request<String>>) -> f64
where
    S: Service<Request<String>, Response = Response<B>> + Clone,
{
    let n = requests.len();
    let start = std::time::Instant::now();
    for request in requests {
        let _ = black_box(service.clone().oneshot(request).await.ok());
    }
    start.elapsed().as_nanos() as f64 / n as f64
}

/// The time `with` adds per request over `without`, measured in alternating
/// blocks (the order swapped every round) so that drift of the machine
/// falls on both alike: the median of the rounds' differences, with the
/// quartiles. Separate criterion runs of the two drift apart by ±30 ns on
/// this machine class; the rounds agree within a few.
fn added<S1, S2, B1, B2>(
    rt: &tokio::runtime::Runtime,
    without: &S1,
    with: &S2,
    make: fn() -> Request<String>,
    rounds: usize,
) -> serde_json::Value
where
    S1: Service<Request<String>, Response = Response<B1>> + Clone,
    S2: Service<Request<String>, Response = Response<B2>> + Clone,
{
    const PER_BLOCK: usize = 2_000;
    let mut differences: Vec<f64> = rt.block_on(async {
        let mut differences = Vec::with_capacity(rounds);
        // Round 0 warms up and is not counted.
        for round in 0..=rounds {
            let batch = || (0..PER_BLOCK).map(|_| make()).collect::<Vec<_>>();
            let (base, layered) = if round % 2 == 0 {
                let base = block(without, batch()).await;
                (base, block(with, batch()).await)
            } else {
                let layered = block(with, batch()).await;
                (block(without, batch()).await, layered)
            };
            if round > 0 {
                differences.push(layered - base);
            }
        }
        differences
    });
    differences.sort_by(f64::total_cmp);
    let at = |q: f64| differences[((differences.len() - 1) as f64 * q).round() as usize];
    serde_json::json!({
        "median_ns": at(0.5),
        "q1_ns": at(0.25),
        "q3_ns": at(0.75),
        "rounds": rounds,
        "requests_per_block": PER_BLOCK,
    })
}

/// Nanoseconds per `CachedTenantStore` hit when `threads` threads look up
/// tenants of their own at once (each thread 16 tenants of 1,024).
fn hits_per_thread(cached: &std::sync::Arc<dyn TenantStore>, threads: usize, hits: u64) -> f64 {
    let start = std::time::Instant::now();
    std::thread::scope(|scope| {
        for thread in 0..threads {
            scope.spawn(move || {
                let keys: Vec<TenantKey> = (0..16)
                    .map(|i| {
                        TenantKey::Slug(
                            format!("t{}", thread * 16 + i)
                                .parse()
                                .unwrap_or_else(|_| unreachable!()),
                        )
                    })
                    .collect();
                for key in keys.iter().cycle().take(usize::try_from(hits).unwrap_or(0)) {
                    black_box(cached.lookup_now(key));
                }
            });
        }
    });
    start.elapsed().as_nanos() as f64 / hits as f64
}

/// Cache hits from one thread and from every core at once: with the
/// entries spread over many locks, threads that look up different tenants
/// do not wait on each other.
fn cache_scaling(rt: &tokio::runtime::Runtime, hits: u64) -> serde_json::Value {
    let store = InMemoryTenantStore::new();
    for i in 0..1_024 {
        let slug: TenantSlug = format!("t{i}").parse().unwrap_or_else(|_| unreachable!());
        store.insert(Tenant::builder(TenantId::new_v4(), slug).build());
    }
    let cached: std::sync::Arc<dyn TenantStore> =
        std::sync::Arc::new(CachedTenantStore::new(Database(store)));
    rt.block_on(async {
        for i in 0..1_024 {
            let slug: TenantSlug = format!("t{i}").parse().unwrap_or_else(|_| unreachable!());
            let _ = cached.by_slug(&slug).await;
        }
    });
    let threads = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    serde_json::json!({
        "threads": threads,
        "one_thread_ns": hits_per_thread(&cached, 1, hits),
        "all_threads_ns": hits_per_thread(&cached, threads, hits),
    })
}

/// Allocations of one run of `f`, averaged over many.
fn count(mut f: impl FnMut()) -> f64 {
    const N: u64 = 1_000;
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    for _ in 0..N {
        f();
    }
    (ALLOCATIONS.load(Ordering::Relaxed) - before) as f64 / N as f64
}

/// Where the hit path's allocations come from, measured one by one.
fn parts(rt: &tokio::runtime::Runtime) -> serde_json::Value {
    let store = InMemoryTenantStore::new();
    let tenant = Tenant::builder(
        TenantId::new_v4(),
        "acme".parse().unwrap_or_else(|_| unreachable!()),
    )
    .build();
    store.insert(tenant.clone());
    let cached: std::sync::Arc<dyn TenantStore> =
        std::sync::Arc::new(CachedTenantStore::new(Database(store)));
    let _ = rt.block_on(cached.by_slug(tenant.slug()));
    let key = TenantKey::Slug(tenant.slug().clone());
    // A request as axum's router hands it on: its extensions hold a value.
    let routed = || {
        let mut request = Request::new(());
        request.extensions_mut().insert(1_u8);
        request
    };
    let into_routed = count(|| {
        let mut request = routed();
        request.extensions_mut().insert(tenant.clone());
        black_box(request);
    }) - count(|| {
        black_box(routed());
    });
    let label = metrics::SharedString::from(std::sync::Arc::<str>::from("acme"));
    serde_json::json!({
        "the `metrics` facade's own, per metered request (a key with labels for a counter and a histogram), without an exporter": count(|| {
            metrics::counter!("c", "tenant" => label.clone(), "route" => label.clone(), "status" => "2xx").increment(1);
            metrics::histogram!("h", "tenant" => label.clone(), "route" => label.clone()).record(1.0);
        }),
        "parsing the slug (stored inline, no heap)": count(|| {
            black_box("acme".parse::<TenantSlug>().ok());
        }),
        "cached store hit (`TenantStore::lookup_now`: no future)": count(|| {
            black_box(cached.lookup_now(&key));
        }),
        "Tenant into extensions that already hold a value, as in an axum route (http boxes the value)": into_routed,
        "Tenant into a bare request's empty extensions (http allocates the map, its table and the boxed value)": count(|| {
            // `Request::new` itself allocates nothing.
            let mut request = Request::new(());
            request.extensions_mut().insert(tenant.clone());
            black_box(request);
        }),
    })
}

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap_or_else(|_| unreachable!());
    let plain = inner();
    let layered = layer().layer(inner());
    // `with_state(())` turns handlers into routes once, as `axum::serve` does
    // per connection; otherwise axum would rebuild them on every request.
    let plain_app = router().with_state(());
    let noop_app = router().layer(PassThrough).with_state(());
    let layered_app = router().layer(layer()).with_state(());
    // The meter layer inside the tenant layer, without an exporter (the
    // `metrics` facade's no-op recorder): what metering itself costs.
    let layered_noop_app = router().layer(PassThrough).layer(layer()).with_state(());
    let metered_app = router()
        .layer(MeterLayer::new(UsageLedger::new(TenantLabels::top(100))))
        .layer(layer())
        .with_state(());
    // Warm the caches.
    rt.block_on(async {
        let _ = layered.clone().oneshot(by_header()).await;
        let _ = layered_app.clone().oneshot(by_header()).await;
        let _ = metered_app.clone().oneshot(by_header()).await;
    });

    // `scripts/instructions.sh` runs one case alone under callgrind.
    if let Ok(case) = std::env::var("TENANCY_BENCH_COUNT") {
        let app = match case.as_str() {
            "axum_noop_layer" => &noop_app,
            "axum_header" => &layered_app,
            "axum_header_noop_layer" => &layered_noop_app,
            "axum_header_metered" => &metered_app,
            other => panic!("TENANCY_BENCH_COUNT: no case {other}"),
        };
        // Warm up outside the counted function, then count 10,000 requests.
        serve(&rt, app, (0..1_000).map(|_| by_header()).collect());
        counted_requests(&rt, app, (0..10_000).map(|_| by_header()).collect());
        return;
    }

    let mut group = c.benchmark_group("middleware");
    group.bench_function("baseline", |b| {
        b.to_async(&rt)
            .iter(|| plain.oneshot(black_box(by_header())))
    });
    group.bench_function("header", |b| {
        b.to_async(&rt)
            .iter(|| layered.clone().oneshot(black_box(by_header())))
    });
    group.bench_function("subdomain", |b| {
        b.to_async(&rt)
            .iter(|| layered.clone().oneshot(black_box(by_subdomain())))
    });
    group.bench_function("axum_baseline", |b| {
        b.to_async(&rt)
            .iter(|| plain_app.clone().oneshot(black_box(by_header())))
    });
    group.bench_function("axum_noop_layer", |b| {
        b.to_async(&rt)
            .iter(|| noop_app.clone().oneshot(black_box(by_header())))
    });
    group.bench_function("axum_header", |b| {
        b.to_async(&rt)
            .iter(|| layered_app.clone().oneshot(black_box(by_header())))
    });
    group.bench_function("axum_header_noop_layer", |b| {
        b.to_async(&rt)
            .iter(|| layered_noop_app.clone().oneshot(black_box(by_header())))
    });
    group.bench_function("axum_header_metered", |b| {
        b.to_async(&rt)
            .iter(|| metered_app.clone().oneshot(black_box(by_header())))
    });
    group.finish();

    let counts = serde_json::json!({
        "baseline": allocations(&rt, &plain, by_header),
        "header": allocations(&rt, &layered, by_header),
        "subdomain": allocations(&rt, &layered, by_subdomain),
        "axum_baseline": allocations(&rt, &plain_app, by_header),
        "axum_noop_layer": allocations(&rt, &noop_app, by_header),
        "axum_header": allocations(&rt, &layered_app, by_header),
        "axum_header_noop_layer": allocations(&rt, &layered_noop_app, by_header),
        "axum_header_metered": allocations(&rt, &metered_app, by_header),
        "parts": parts(&rt),
    });
    eprintln!("allocations per request: {counts}");

    // Under `cargo test` (criterion's test mode) a few rounds check that it
    // runs; `cargo bench` measures.
    let measuring = std::env::args().any(|a| a == "--bench");
    let rounds = if !measuring {
        2
    } else if std::env::var_os("TENANCY_BENCH_QUICK").is_some_and(|v| v == "1") {
        21
    } else {
        201
    };
    let scaling = cache_scaling(&rt, if measuring { 5_000_000 } else { 1_000 });
    eprintln!("cache hits per thread: {scaling}");
    let interleaved = serde_json::json!({
        "cache_scaling": scaling,
        "header/baseline": added(&rt, &plain, &layered, by_header, rounds),
        "subdomain/baseline": added(&rt, &plain, &layered, by_subdomain, rounds),
        "axum_header/axum_baseline": added(&rt, &plain_app, &layered_app, by_header, rounds),
        "axum_header/axum_noop_layer": added(&rt, &noop_app, &layered_app, by_header, rounds),
        "axum_header_metered/axum_header_noop_layer": added(&rt, &layered_noop_app, &metered_app, by_header, rounds),
    });
    eprintln!("time added per request, interleaved: {interleaved}");
    if measuring {
        let dir = tenancy_bench::output_dir();
        let _ = std::fs::create_dir_all(&dir);
        let _ = std::fs::write(dir.join("allocations.json"), counts.to_string());
        let _ = std::fs::write(dir.join("middleware.json"), interleaved.to_string());
    }
}

fn config() -> Criterion {
    let criterion = Criterion::default();
    if std::env::var_os("TENANCY_BENCH_QUICK").is_some_and(|v| v == "1") {
        criterion
            .sample_size(10)
            .warm_up_time(std::time::Duration::from_millis(300))
            .measurement_time(std::time::Duration::from_secs(1))
    } else {
        criterion
    }
}

criterion_group! {
    name = benches;
    config = config();
    targets = bench
}
criterion_main!(benches);

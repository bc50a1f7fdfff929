//! The torture run, as a test: zero leaks through tenancy-sqlx and
//! tenancy-diesel (diesel-async), directly and through pgbouncer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use tenancy_isolation::backend::{Backend, DieselAsync, Sqlx};
use tenancy_isolation::fixture::World;
use tenancy_isolation::torture::{self, Config};
use tenancy_testing::{APP_ROLE, PgBouncer, PgServer};

/// Kinds that check isolation as they run (the others are checked at the
/// end, against the ledger): each must have completed enough checks.
const CHECKING: [&str; 4] = [
    "read",
    "cross-tenant attack",
    "query without tenant",
    "raw-SQL attack",
];

fn config() -> Config {
    let seed = std::env::var("TORTURE_SEED")
        .ok()
        .and_then(|s| u64::from_str_radix(s.trim_start_matches("0x"), 16).ok())
        .unwrap_or_else(|| Config::default().seed);
    Config {
        seed,
        operations: 20_000,
        ..Config::default()
    }
}

async fn run<B: Backend>(world: &World, backend: B, target: &str) {
    run_with(world, backend, target, config()).await;
}

async fn run_with<B: Backend>(world: &World, backend: B, target: &str, config: Config) {
    let report = torture::run(
        world,
        backend,
        world.admin_pool().await.unwrap(),
        target,
        &config,
    )
    .await;
    eprintln!("{}", report.to_markdown());
    assert!(
        report.leaks.is_empty(),
        "{} leak(s) with seed {:#x} (rerun with TORTURE_SEED={:x}):\n{}",
        report.leaks.len(),
        report.seed,
        report.seed,
        report.leaks.join("\n")
    );
    let lost_statements: Vec<_> = report
        .top_errors
        .iter()
        .filter(|(message, _)| message.contains("prepared statement"))
        .collect();
    assert!(
        lost_statements.is_empty(),
        "prepared statements lost between server connections: {lost_statements:?}"
    );
    assert!(
        report.operations >= 5_000,
        "only {} operations ran",
        report.operations
    );
    for k in &report.by_kind {
        let skipped = !config.rls
            && ["cross-tenant attack", "query without tenant"]
                .iter()
                .any(|s| k.kind.starts_with(s));
        if skipped {
            assert_eq!(k.ran, 0, "{} runs only with RLS on", k.kind);
            continue;
        }
        assert!(
            k.ran > 0,
            "no {} operation ran: the run exercised less than it claims",
            k.kind
        );
        if CHECKING.iter().any(|c| k.kind.starts_with(c)) {
            assert!(
                k.checked >= 50,
                "only {} of {} {} operations completed their checks ({} failed)",
                k.checked,
                k.ran,
                k.kind,
                k.failed
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_directly() {
    let world = World::new(50).unwrap();
    let max = config().max_connections;
    let backend = Sqlx::new(world.app_pool(world.db.app_url(), max).await.unwrap(), max);
    run(&world, backend, "directly").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_through_pgbouncer_in_transaction_mode() {
    let world = World::new(50).unwrap();
    let bouncer = PgBouncer::start(PgServer::shared().unwrap(), 4).unwrap();
    let max = config().max_connections;
    let backend = Sqlx::through_pgbouncer(
        world
            .app_pool(&bouncer.url(APP_ROLE, world.db.name()), max)
            .await
            .unwrap(),
        max,
    );
    run(&world, backend, "through pgbouncer").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diesel_async_directly() {
    let world = World::new(50).unwrap();
    let backend = DieselAsync::new(world.db.app_url(), config().max_connections as usize).unwrap();
    run(&world, backend, "directly").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diesel_async_through_pgbouncer_in_transaction_mode() {
    let world = World::new(50).unwrap();
    let bouncer = PgBouncer::start(PgServer::shared().unwrap(), 4).unwrap();
    let backend = DieselAsync::through_pgbouncer(
        &bouncer.url(APP_ROLE, world.db.name()),
        config().max_connections as usize,
    )
    .unwrap();
    run(&world, backend, "through pgbouncer").await;
}

/// The type-level wall alone: a world with RLS off on the table, so only
/// the scoped builders keep tenants apart; every scoped read is checked
/// against the ledger (each row written for this tenant, none discarded,
/// none missing).
fn rls_off() -> (World, Config) {
    let world = World::new(50).unwrap();
    world.disable_rls().unwrap();
    let config = Config {
        rls: false,
        operations: 5_000,
        ..config()
    };
    (world, config)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_builders_alone_with_rls_off() {
    let (world, config) = rls_off();
    let max = config.max_connections;
    let backend = Sqlx::new(world.app_pool(world.db.app_url(), max).await.unwrap(), max);
    run_with(&world, backend, "directly, RLS off", config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn diesel_async_builders_alone_with_rls_off() {
    let (world, config) = rls_off();
    let backend = DieselAsync::new(world.db.app_url(), config.max_connections as usize).unwrap();
    run_with(&world, backend, "directly, RLS off", config).await;
}

/// Mixed tiers: every other tenant sealed (its own login role, policies on
/// `session_user`), the rest shared, all through one routed pool. The
/// cross-tenant attacks run between every pair of tiers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqlx_sealed_and_shared_tenants_side_by_side() {
    let mut world = World::new(50).unwrap();
    world.seal_every_other().await.unwrap();
    let max = config().max_connections;
    let routed = tenancy_isolation::fixture::mixed_tier_pool(&world, max).unwrap();
    let backend = Sqlx::routed(
        routed,
        world.app_pool(world.db.app_url(), max).await.unwrap(),
        max,
    );
    run(&world, backend, "sealed and shared, directly").await;
}

//! The torture run, as a test: zero leaks through tenancy-sqlx and
//! tenancy-diesel (diesel-async), directly and through pgbouncer.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use tenancy_isolation::backend::{Backend, DieselAsync, Sqlx};
use tenancy_isolation::fixture::World;
use tenancy_isolation::torture::{self, Config};
use tenancy_testing::{APP_ROLE, PgBouncer, PgServer};

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
    let config = config();
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
    for (kind, n) in &report.by_kind {
        assert!(
            *n > 0,
            "no {kind} operation ran: the run exercised less than it claims"
        );
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

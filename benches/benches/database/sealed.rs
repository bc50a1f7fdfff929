//! `sealed_tx` and `sealed_cold`: what the sealed tier costs, against the
//! default binding in the same run.
//!
//! `orders_sealed` is a copy of `orders` with the sealed policies too; a
//! sample of the benchmark's tenants is sealed (a login role each).
//!
//! - `sealed_tx/shared`: `TenantPool::begin` on `orders` (the default mode,
//!   the baseline), one order by key, commit.
//! - `sealed_tx/shared_next_to_sealed`: the same on `orders_sealed`: what a
//!   shared tenant pays for the sealed policies on its table.
//! - `sealed_tx/sealed`: a sealed tenant's transaction on its own warm pool
//!   (`RoutedPool` with sealed logins), on `orders_sealed`.
//! - `sealed_tx/pgbouncer_shared`, `sealed_tx/pgbouncer_sealed`: the same
//!   two through pgbouncer in transaction mode (SCRAM, a pgbouncer pool per
//!   role).
//! - `sealed_cold/shared`, `sealed_cold/sealed`: the first transaction on a
//!   new pool: connect (trust for the app role, SCRAM for a sealed role),
//!   begin, select, commit, close.
//!
//! Outside criterion (`sealed.json`): the time to seal N tenants, and the
//! server connections held when N sealed tenants exist and 50 of them run
//! transactions.

use std::time::{Duration, Instant};

use criterion::Criterion;
use sqlx::PgPool;
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use tenancy_core::rls::{SealedSetup, TenantPolicy};
use tenancy_core::{IdSqlType, Placement, TargetName, Tenant, TenantId, TenantSettings};
use tenancy_sqlx::routing::{PlacementRouter, RoutedPool};
use tenancy_sqlx::sealed::{SealedLogins, SealedProvisioner};
use tenancy_sqlx::{BeginTenantTx, TenantPool};
use tenancy_testing::{PgBouncer, PgServer};
use uuid::Uuid;

use crate::cases::async_case;
use crate::dataset::Dataset;
use crate::settings::Settings;
use crate::sqlx_tx::{BY_KEY, by_key};

const BY_KEY_SEALED: &str =
    "SELECT id, quantity FROM orders_sealed WHERE tenant_id = $1 AND id = $2";

/// Tenants of the sample that are sealed.
const SEALED_SAMPLE: usize = 16;

fn logins() -> SealedLogins {
    SealedLogins::new("bench", &[11; 32]).expect("a 32-byte secret")
}

fn sealed(tenant: &Tenant) -> Tenant {
    tenant
        .to_builder()
        .settings(TenantSettings::default().with_placement(Placement::sealed()))
        .build()
}

fn routed(url: &str, statement_cache: bool) -> RoutedPool {
    let main = TargetName::new("main").expect("a valid target");
    let mut options: PgConnectOptions = url.parse().expect("a valid url");
    if !statement_cache {
        options = options.statement_cache_capacity(0);
    }
    let mut builder = RoutedPool::builder(PlacementRouter::new().with_default(main.clone()))
        .target(main, options)
        .pool_options(PgPoolOptions::new().max_connections(1))
        .sealed_logins(logins())
        .sealed_pool_options(PgPoolOptions::new().max_connections(1));
    if !statement_cache {
        builder = builder.unnamed_statements();
    }
    builder.build()
}

pub fn bench(c: &mut Criterion, rt: &tokio::runtime::Runtime, data: &Dataset, settings: &Settings) {
    let policy = TenantPolicy::new("orders_sealed").expect("a valid table");
    data.db
        .admin_sql(&SealedSetup::group_role_sql())
        .expect("the group role");
    data.db
        .owner_sql(&format!(
            "CREATE TABLE orders_sealed (LIKE orders INCLUDING ALL);
             {enable}
             {setup}
             {sealed}",
            enable = policy.enable_sql(),
            setup = SealedSetup::new(IdSqlType::Uuid)
                .manager(tenancy_testing::PROVISIONER_ROLE)
                .expect("a valid role")
                .table_sql(),
            sealed = policy.sealed_sql(),
        ))
        .expect("the sealed table");
    // As the administrator: `orders` is under forced RLS for its owner too.
    data.db
        .admin_sql("INSERT INTO orders_sealed SELECT * FROM orders; ANALYZE orders_sealed;")
        .expect("the sealed table's rows");
    let provisioner = rt.block_on(async {
        SealedProvisioner::new(
            PgPool::connect(data.db.provisioner_url())
                .await
                .expect("a provisioner pool"),
            logins(),
        )
        .connection_limit(Some(4))
    });
    // The sample: the first keys' tenants are sealed, the rest shared.
    let sample: Vec<(Tenant, Uuid)> = (0..SEALED_SAMPLE).map(|i| data.key(i)).collect();
    rt.block_on(async {
        for (tenant, _) in &sample {
            provisioner.seal(tenant.id_ref()).await.expect("seal");
        }
    });
    let sealed_key = |i: usize| {
        let (tenant, id) = &sample[i % SEALED_SAMPLE];
        (sealed(tenant), *id)
    };
    let shared_key = |i: usize| data.key(SEALED_SAMPLE + i % (data.keys.len() - SEALED_SAMPLE));

    let shared_pool = rt
        .block_on(
            PgPoolOptions::new()
                .max_connections(1)
                .connect(data.db.app_url()),
        )
        .expect("an app-role pool");
    let pool = TenantPool::new(shared_pool.clone());
    let direct = routed(data.db.app_url(), true);
    let auth = provisioner.pgbouncer_auth_lines(sample.iter().map(|(t, _)| t.id_ref()));
    let bouncer =
        PgBouncer::start_authenticating(PgServer::shared().expect("the test server"), 4, &auth)
            .expect("pgbouncer");
    let bounced = routed(
        &bouncer.url(tenancy_testing::APP_ROLE, data.db.name()),
        false,
    );

    let mut group = c.benchmark_group("sealed_tx");
    let mut i = 0;
    let mut case = |name: &str,
                    key: &dyn Fn(usize) -> (Tenant, Uuid),
                    run: &dyn Fn(
        Tenant,
        Uuid,
    )
        -> std::pin::Pin<Box<dyn std::future::Future<Output = bool>>>| {
        group.bench_function(name, |b| {
            b.to_async(rt).iter(|| {
                i += 1;
                let (tenant, id) = key(i);
                let found = run(tenant, id);
                async move { assert!(found.await, "the row was not found") }
            });
        });
    };
    for (name, sql) in [("shared", BY_KEY), ("shared_next_to_sealed", BY_KEY_SEALED)] {
        case(name, &shared_key, &|tenant, id| {
            one_tx(pool.clone(), sql, tenant, id)
        });
    }
    for (name, routed, key) in [
        (
            "sealed",
            &direct,
            &sealed_key as &dyn Fn(usize) -> (Tenant, Uuid),
        ),
        ("pgbouncer_shared", &bounced, &shared_key),
        ("pgbouncer_sealed", &bounced, &sealed_key),
    ] {
        case(name, key, &|tenant, id| {
            one_tx(routed.clone(), BY_KEY_SEALED, tenant, id)
        });
    }
    group.finish();

    let mut group = c.benchmark_group("sealed_cold");
    let url = data.db.app_url().to_owned();
    async_case(&mut group, rt, data, "shared", |tenant, id| {
        let url = url.clone();
        async move {
            let raw = PgPool::connect(&url).await.expect("connect");
            let pool = TenantPool::new(raw.clone());
            let mut tx = pool.begin(&tenant).await.expect("begin");
            let found = by_key(&mut tx, BY_KEY, &tenant, id).await;
            tx.commit().await.expect("commit");
            raw.close().await;
            found
        }
    });
    let mut j = 0;
    group.bench_function("sealed", |b| {
        b.to_async(rt).iter(|| {
            j += 1;
            let (tenant, id) = sealed_key(j);
            let url = url.clone();
            async move {
                let routed = routed(&url, true);
                let mut tx = routed.begin(&tenant).await.expect("begin");
                let found = by_key(&mut tx, BY_KEY_SEALED, &tenant, id).await;
                tx.commit().await.expect("commit");
                routed.close().await;
                assert!(found, "the row was not found");
            }
        });
    });
    group.finish();
    rt.block_on(shared_pool.close());
    rt.block_on(direct.close());
    rt.block_on(bounced.close());
    drop(bouncer);

    let scale = rt.block_on(scale(data, &provisioner, settings));
    let dir = tenancy_bench::output_dir();
    let _ = std::fs::create_dir_all(&dir);
    let _ = std::fs::write(dir.join("sealed.json"), scale.to_string());
}

/// One transaction of `tenant` on `pool` that reads order `id` with `sql`.
fn one_tx<P: BeginTenantTx + 'static>(
    pool: P,
    sql: &'static str,
    tenant: Tenant,
    id: Uuid,
) -> std::pin::Pin<Box<dyn std::future::Future<Output = bool>>> {
    Box::pin(async move {
        let mut tx = pool.begin(&tenant).await.expect("begin");
        let found = by_key(&mut tx, sql, &tenant, id).await;
        tx.commit().await.expect("commit");
        found
    })
}

/// Seals N tenants (timed), then runs transactions for 50 of them at once
/// through one routed pool and counts the server connections of sealed
/// roles.
async fn scale(
    data: &Dataset,
    provisioner: &SealedProvisioner,
    settings: &Settings,
) -> serde_json::Value {
    let n: usize = if settings.measuring { 1_000 } else { 60 };
    let active = 50.min(n);
    let ids: Vec<TenantId> = (0..n).map(|_| TenantId::new_v4()).collect();
    let started = Instant::now();
    for id in &ids {
        provisioner.seal(id).await.expect("seal");
    }
    let per_tenant = started.elapsed() / u32::try_from(n).expect("few tenants");
    let pool = {
        let main = TargetName::new("main").expect("a valid target");
        RoutedPool::builder(PlacementRouter::new().with_default(main.clone()))
            .target(main, data.db.app_url().parse().expect("a valid url"))
            .sealed_logins(logins())
            .max_open_pools(64)
            .build()
    };
    let tenants: Vec<Tenant> = ids
        .iter()
        .enumerate()
        .map(|(i, id)| {
            sealed(&Tenant::builder(*id, format!("scale-{i}").parse().expect("a slug")).build())
        })
        .collect();
    // Every tenant once (pools open and are evicted), then the 50 active
    // ones three times each, at once.
    for tenant in &tenants {
        let mut tx = pool.begin(tenant).await.expect("begin");
        let _: i64 = sqlx::query_scalar("SELECT count(*) FROM orders_sealed")
            .fetch_one(&mut tx)
            .await
            .expect("select");
        tx.commit().await.expect("commit");
    }
    let mut set = tokio::task::JoinSet::new();
    for round in 0..3 {
        for tenant in tenants.iter().take(active) {
            let (pool, tenant) = (pool.clone(), tenant.clone());
            set.spawn(async move {
                tokio::time::sleep(Duration::from_millis(round * 10)).await;
                let mut tx = pool.begin(&tenant).await.expect("begin");
                let _: i64 = sqlx::query_scalar("SELECT count(*) FROM orders_sealed")
                    .fetch_one(&mut tx)
                    .await
                    .expect("select");
                tx.commit().await.expect("commit");
            });
        }
    }
    while let Some(done) = set.join_next().await {
        done.expect("a transaction task");
    }
    let held: i64 = data
        .db
        .admin_sql(
            "SELECT count(*) FROM pg_stat_activity s JOIN pg_auth_members m ON m.member = s.usesysid
             JOIN pg_roles g ON g.oid = m.roleid AND g.rolname = 'tenancy_sealed'",
        )
        .expect("count connections")
        .trim()
        .parse()
        .expect("a count");
    let open_pools = pool.open_sealed_pools();
    pool.close().await;
    for id in &ids {
        provisioner.unseal(id).await.expect("unseal");
    }
    serde_json::json!({
        "tenants": n,
        "active": active,
        "seal_ms_per_tenant": per_tenant.as_secs_f64() * 1e3,
        "connections_held": held,
        "open_pools": open_pools,
    })
}

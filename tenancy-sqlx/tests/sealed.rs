//! Sealed tenants against SQL injection: every attack of the threat model
//! runs as raw SQL inside a tenant's transaction, as an injection would,
//! in the default mode (shared role, setting-keyed policy) and in sealed
//! mode (the tenant's own login role, policies keyed on `session_user`),
//! directly and through pgbouncer in transaction mode.
//!
//! The outcome of each attack is measured (rows of the victim seen,
//! changed or planted, compared with the administrator's count) and the
//! table in `docs/attacks.md` (and its copy in `docs/isolation.md`) is
//! generated from it: run with `TENANCY_BLESS=1` to rewrite it; otherwise a
//! difference fails.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // test helpers

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sqlx::postgres::PgConnectOptions;
use tenancy_core::rls::sealed::SEALED_GROUP_ROLE;
use tenancy_core::rls::{SealedRole, SealedSetup, TenantPolicy};
use tenancy_core::{
    IdSqlType, Placement, SchemaName, TargetName, Tenant, TenantError, TenantId, TenantSettings,
};
use tenancy_sqlx::routing::{PlacementRouter, RoutedPool};
use tenancy_sqlx::schemas::{Migrations, SchemaProvisioner};
use tenancy_sqlx::sealed::{SealedLogins, SealedProvisioner};
use tenancy_sqlx::{Error, TenantPool, TenantTx};
use tenancy_testing::{PROVISIONER_ROLE, PgBouncer, PgServer, TestDatabase};

const SECRET: [u8; 32] = [42; 32];

fn logins() -> SealedLogins {
    SealedLogins::new("test-1", &SECRET).unwrap()
}

fn tenant(id: TenantId, slug: &str, placement: Placement) -> Tenant {
    Tenant::builder(id, slug.parse().unwrap())
        .settings(TenantSettings::default().with_placement(placement))
        .build()
}

/// A database with `orders` under the setting policy and the sealed
/// policies, a `SECURITY DEFINER` function and a plain view over it (both
/// owned by the table owner, as in many real schemas), two sealed tenants
/// (`a`, `b`) and two shared ones (`c`, `d`) with 2, 3, 4 and 5 orders, and
/// two tenants in their own schemas (`e`, `f`) with 6 and 7.
struct World {
    db: TestDatabase,
    a: Tenant,
    b: Tenant,
    c: Tenant,
    d: Tenant,
    e: Tenant,
    f: Tenant,
    provisioner: SealedProvisioner,
}

/// The table of schema tenants' migrations (no sealed policies: sealed
/// tenants live in the shared tables).
fn schema_orders_sql() -> String {
    let policy = TenantPolicy::new("orders").unwrap();
    format!(
        "CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY, {}, item text NOT NULL,
             PRIMARY KEY (tenant_id, id));
         {}",
        policy.column_sql(),
        policy.enable_sql()
    )
}

async fn world() -> World {
    let db = tenancy_testing::test_database();
    let provisioner_pool = sqlx::PgPool::connect(db.provisioner_url()).await.unwrap();
    let provisioner = SealedProvisioner::new(provisioner_pool, logins());
    provisioner.ensure_group_role().await.unwrap();
    let policy = TenantPolicy::new("orders").unwrap();
    db.owner_sql(&format!(
        "CREATE TABLE orders (id bigint GENERATED ALWAYS AS IDENTITY, {column}, item text NOT NULL,
             PRIMARY KEY (tenant_id, id));
         {enable}
         {setup}
         {sealed}
         CREATE FUNCTION all_orders() RETURNS SETOF orders LANGUAGE sql SECURITY DEFINER
             AS 'SELECT * FROM orders';
         CREATE VIEW orders_view AS SELECT * FROM orders;
         GRANT SELECT ON orders_view TO {SEALED_GROUP_ROLE};",
        column = policy.column_sql(),
        enable = policy.enable_sql(),
        setup = SealedSetup::new(IdSqlType::Uuid)
            .manager(PROVISIONER_ROLE)
            .unwrap()
            .table_sql(),
        sealed = policy.sealed_sql(),
    ))
    .unwrap();
    let ids: Vec<TenantId> = (0..4).map(|_| TenantId::new_v4()).collect();
    for (id, n) in ids.iter().zip([2, 3, 4, 5]) {
        db.admin_sql(&format!(
            "INSERT INTO orders (tenant_id, item) SELECT '{id}', 'order ' || g FROM generate_series(1, {n}) g"
        ))
        .unwrap();
    }
    provisioner.seal(&ids[0]).await.unwrap();
    provisioner.seal(&ids[1]).await.unwrap();
    let schemas = SchemaProvisioner::new(
        sqlx::PgPool::connect(db.provisioner_url()).await.unwrap(),
        Migrations::new()
            .add(1, "orders", &schema_orders_sql())
            .unwrap(),
    )
    .grant_to(tenancy_testing::APP_ROLE)
    .unwrap();
    let mut in_schemas = Vec::new();
    for (slug, n) in [("e", 6), ("f", 7)] {
        let id = TenantId::new_v4();
        let schema = SchemaName::for_tenant(&id);
        schemas.provision(&schema).await.unwrap();
        db.admin_sql(&format!(
            "INSERT INTO {schema}.orders (tenant_id, item) SELECT '{id}', 'order ' || g FROM generate_series(1, {n}) g"
        ))
        .unwrap();
        in_schemas.push(tenant(id, slug, Placement::shared().with_schema(schema)));
    }
    let f = in_schemas.pop().unwrap();
    let e = in_schemas.pop().unwrap();
    World {
        a: tenant(ids[0], "a", Placement::sealed()),
        b: tenant(ids[1], "b", Placement::sealed()),
        c: tenant(ids[2], "c", Placement::shared()),
        d: tenant(ids[3], "d", Placement::shared()),
        e,
        f,
        db,
        provisioner,
    }
}

impl World {
    /// Rows of `victim` that exist (in its schema, or in `public`),
    /// counted by the administrator.
    fn real_count(&self, victim: &Tenant) -> i64 {
        self.db
            .admin_sql(&format!(
                "SELECT count(*) FROM {}.orders WHERE tenant_id = '{}'",
                schema_or_public(victim),
                victim.id()
            ))
            .unwrap()
            .parse()
            .unwrap()
    }
}

/// One routed pool for everybody: shared tenants on the app role,
/// sealed ones on their own role, all on `url`'s server.
fn routed_pool(url: &str) -> RoutedPool {
    let main = TargetName::new("main").unwrap();
    RoutedPool::builder(PlacementRouter::new().with_default(main.clone()))
        .target(main, url.parse::<PgConnectOptions>().unwrap())
        .sealed_logins(logins())
        .build()
}

/// The victim's schema, or `public`.
fn schema_or_public(t: &Tenant) -> String {
    t.placement()
        .schema()
        .map_or_else(|| "public".to_owned(), |s| s.as_str().to_owned())
}

/// The role the attacker would need: the victim's login role (sealed), its
/// schema's role (schema per tenant), or the tables' owner (shared).
fn role_of(t: &Tenant) -> String {
    if t.placement().is_sealed() {
        SealedRole::for_tenant(&t.id()).to_string()
    } else {
        t.placement()
            .schema()
            .map_or_else(|| "tenancy_owner".to_owned(), |s| s.as_str().to_owned())
    }
}

/// What an attack achieved.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Outcome {
    /// The server refused a statement of the attack.
    Refused,
    /// Everything ran; none of the victim's rows was seen or touched.
    NoRows,
    /// The victim's rows were seen, changed or planted.
    Leaked,
}

impl Outcome {
    fn cell(self) -> &'static str {
        match self {
            Outcome::Refused => "stopped (refused)",
            Outcome::NoRows => "stopped (no rows)",
            Outcome::Leaked => "**leaks**",
        }
    }
}

/// The victim's rows the attacker's statements reach.
enum Probe {
    /// `SELECT count(*)` of the victim's rows through this relation.
    Count(&'static str),
    /// Rows affected by this statement (`{v}` is the victim's id).
    Affected(&'static str),
    /// A count of the victim's rows returned by this statement.
    Scalar(&'static str),
}

struct Attack {
    name: &'static str,
    /// Raw SQL run first (`{v}`: the victim's id, `{vrole}`: the role that
    /// reaches the victim's rows ([`role_of`]), `{vschema}`: its schema or
    /// `public`).
    setup: &'static str,
    probe: Probe,
}

const ATTACKS: &[Attack] = &[
    Attack {
        name: "`SET LOCAL app.tenant_id` to the victim",
        setup: "SET LOCAL app.tenant_id = '{v}'",
        probe: Probe::Count("orders"),
    },
    Attack {
        name: "`set_config('app.tenant_id', .., false)` (session level)",
        setup: "SELECT set_config('app.tenant_id', '{v}', false)",
        probe: Probe::Count("orders"),
    },
    Attack {
        name: "`RESET app.tenant_id` (no tenant at all)",
        setup: "RESET app.tenant_id",
        probe: Probe::Count("orders"),
    },
    Attack {
        name: "`COMMIT`, then a session-level `SET` outside any transaction",
        setup: "COMMIT; SET app.tenant_id = '{v}'",
        probe: Probe::Count("orders"),
    },
    Attack {
        name: "`SET ROLE` to the victim's role, `search_path` to its schema",
        setup: "SET LOCAL app.tenant_id = '{v}'; SET LOCAL search_path = {vschema}; SET ROLE {vrole}",
        probe: Probe::Count("orders"),
    },
    Attack {
        name: "name the victim's schema (`<schema>.orders`)",
        setup: "SET LOCAL app.tenant_id = '{v}'",
        probe: Probe::Count("{vschema}.orders"),
    },
    Attack {
        name: "`SET ROLE` to the group of sealed roles, `RESET ROLE`",
        setup: "SET LOCAL app.tenant_id = '{v}'; SET ROLE tenancy_sealed; RESET ROLE",
        probe: Probe::Count("orders"),
    },
    Attack {
        name: "`SET SESSION AUTHORIZATION` to the victim's role",
        setup: "SET SESSION AUTHORIZATION {vrole}",
        probe: Probe::Count("orders"),
    },
    Attack {
        name: "`search_path` changed (`pg_temp` first, then the victim's schema)",
        setup: "SET LOCAL app.tenant_id = '{v}'; SET LOCAL search_path = pg_temp, {vschema}",
        probe: Probe::Count("orders"),
    },
    Attack {
        name: "temporary table that shadows `orders`",
        setup: "CREATE TEMP TABLE orders AS SELECT * FROM public.orders",
        probe: Probe::Count("orders"),
    },
    Attack {
        name: "`SECURITY DEFINER` function of the table owner",
        setup: "SET LOCAL app.tenant_id = '{v}'",
        probe: Probe::Count("all_orders()"),
    },
    Attack {
        name: "view of the table owner (no `security_invoker`)",
        setup: "SET LOCAL app.tenant_id = '{v}'",
        probe: Probe::Count("orders_view"),
    },
    Attack {
        name: "prepared statement",
        setup: "SET LOCAL app.tenant_id = '{v}'; \
                PREPARE peek AS SELECT count(*) FROM orders WHERE tenant_id = '{v}'",
        probe: Probe::Scalar("EXECUTE peek"),
    },
    Attack {
        name: "cursor `WITH HOLD`, read after `COMMIT`",
        setup: "SET LOCAL app.tenant_id = '{v}'; \
                DECLARE c CURSOR WITH HOLD FOR SELECT count(*) FROM orders WHERE tenant_id = '{v}'; \
                COMMIT",
        probe: Probe::Scalar("FETCH c"),
    },
    Attack {
        name: "insert a row for the victim into its table",
        setup: "SET LOCAL app.tenant_id = '{v}'",
        probe: Probe::Affected(
            "INSERT INTO {vschema}.orders (tenant_id, item) VALUES ('{v}', 'planted')",
        ),
    },
    Attack {
        name: "update the victim's rows",
        setup: "SET LOCAL app.tenant_id = '{v}'",
        probe: Probe::Affected(
            "UPDATE {vschema}.orders SET item = 'changed' WHERE tenant_id = '{v}'",
        ),
    },
    Attack {
        name: "delete the victim's rows",
        setup: "SET LOCAL app.tenant_id = '{v}'",
        probe: Probe::Affected("DELETE FROM {vschema}.orders WHERE tenant_id = '{v}'"),
    },
    Attack {
        name: "write the map of sealed roles (own role to the victim)",
        setup: "UPDATE tenancy_sealed_roles SET tenant = '{v}' WHERE role_name = session_user",
        probe: Probe::Count("orders"),
    },
];

/// Runs `attack` in `tx` (the attacker's transaction) against `victim`
/// and says what it reached. The transaction is rolled back.
async fn run(mut tx: TenantTx, attack: &Attack, victim: &Tenant, victim_rows: i64) -> Outcome {
    let fill = |sql: &str| {
        sql.replace("{v}", &victim.id().to_string())
            .replace("{vrole}", &role_of(victim))
            .replace("{vschema}", &schema_or_public(victim))
    };
    if sqlx::raw_sql(sqlx::AssertSqlSafe(fill(attack.setup)))
        .execute(&mut tx)
        .await
        .is_err()
    {
        return Outcome::Refused;
    }
    let reached = match attack.probe {
        Probe::Count(relation) => sqlx::query_scalar::<_, i64>(sqlx::AssertSqlSafe(format!(
            "SELECT count(*) FROM {} WHERE tenant_id = $1",
            fill(relation)
        )))
        .bind(victim.id().as_uuid())
        .fetch_one(&mut tx)
        .await
        .inspect(|n| assert!(*n <= victim_rows, "more rows than the victim has")),
        Probe::Scalar(sql) => sqlx::raw_sql(sqlx::AssertSqlSafe(fill(sql)))
            .fetch_one(&mut tx)
            .await
            .map(|row| sqlx::Row::get::<i64, _>(&row, 0)),
        Probe::Affected(sql) => sqlx::query(sqlx::AssertSqlSafe(fill(sql)))
            .execute(&mut tx)
            .await
            .map(|done| i64::try_from(done.rows_affected()).unwrap()),
    };
    let _ = tx.rollback().await;
    match reached {
        Err(_) => Outcome::Refused,
        Ok(0) => Outcome::NoRows,
        Ok(_) => Outcome::Leaked,
    }
}

/// The columns of the table: (heading, attacker, victim).
fn pairs(w: &World) -> [(&'static str, &Tenant, &Tenant); COLUMNS] {
    [
        ("default mode: shared → shared", &w.c, &w.d),
        ("schema mode: schema → schema", &w.e, &w.f),
        ("sealed mode: sealed → sealed", &w.a, &w.b),
        ("shared → sealed", &w.c, &w.b),
        ("sealed → shared", &w.a, &w.c),
    ]
}

const COLUMNS: usize = 5;

/// The columns in which raw SQL may reach the victim, by design.
const UNSEALED: usize = 2;

/// Every attack, for every pair of [`pairs`].
async fn all_attacks(w: &World, pool: &RoutedPool) -> BTreeMap<&'static str, [Outcome; COLUMNS]> {
    let mut table = BTreeMap::new();
    for attack in ATTACKS {
        let mut row = [Outcome::Refused; COLUMNS];
        for (i, (_, attacker, victim)) in pairs(w).into_iter().enumerate() {
            let tx = pool.begin(attacker).await.unwrap();
            row[i] = run(tx, attack, victim, w.real_count(victim)).await;
        }
        table.insert(attack.name, row);
    }
    table
}

/// Every attack but the default mode's own is stopped; the rows are where
/// they were.
fn assert_sealed_holds(w: &World, table: &BTreeMap<&'static str, [Outcome; COLUMNS]>) {
    for (name, row) in table {
        for (i, outcome) in row.iter().enumerate().skip(UNSEALED) {
            assert_ne!(*outcome, Outcome::Leaked, "{name} leaked in column {i}");
        }
    }
    assert_eq!(all_counts(w), [2, 3, 4, 5, 6, 7]);
}

fn all_counts(w: &World) -> [i64; 6] {
    [&w.a, &w.b, &w.c, &w.d, &w.e, &w.f].map(|t| w.real_count(t))
}

#[tokio::test]
async fn sealed_tenants_stop_every_injection_the_default_mode_cannot() {
    let w = world().await;
    let pool = routed_pool(w.db.app_url());
    let table = all_attacks(&w, &pool).await;
    assert_sealed_holds(&w, &table);
    // The default and schema modes do leak to raw SQL: the table is not
    // vacuous.
    assert_eq!(
        table["`SET LOCAL app.tenant_id` to the victim"][0],
        Outcome::Leaked
    );
    assert_eq!(
        table["`SET ROLE` to the victim's role, `search_path` to its schema"][1],
        Outcome::Leaked
    );
    let stats = pg_stat_activity_replay(&w, &pool).await;
    let markdown = render(&w, &table, stats);
    bless_or_compare(&markdown);
}

#[tokio::test]
async fn sealed_tenants_hold_behind_pgbouncer_in_transaction_mode() {
    let w = world().await;
    let auth = w.provisioner.pgbouncer_auth_lines([&w.a.id(), &w.b.id()]);
    let bouncer = PgBouncer::start_authenticating(PgServer::shared().unwrap(), 4, &auth).unwrap();
    let pool = routed_pool(&bouncer.url(tenancy_testing::APP_ROLE, w.db.name()));
    let table = all_attacks(&w, &pool).await;
    assert_sealed_holds(&w, &table);
    // Each sealed tenant works through its own pgbouncer pool, as itself.
    for t in [&w.a, &w.b] {
        let mut tx = pool.begin(t).await.unwrap();
        let (who, n): (String, i64) =
            sqlx::query_as("SELECT session_user::text, count(*) FROM orders GROUP BY 1")
                .fetch_one(&mut tx)
                .await
                .unwrap();
        assert_eq!(who, SealedRole::for_tenant(&t.id()).to_string());
        assert_eq!(n, w.real_count(t));
        tx.commit().await.unwrap();
    }
}

/// The attacker reads the victim's binding from `pg_stat_activity` (the
/// victim's transaction is open on another connection) and replays it.
/// Returns what the attacker saw in the default mode and in sealed mode.
async fn pg_stat_activity_replay(w: &World, pool: &RoutedPool) -> [Outcome; COLUMNS] {
    let mut row = [Outcome::Refused; COLUMNS];
    for (i, (_, attacker, victim)) in pairs(w).into_iter().enumerate() {
        // The victim's transaction has just begun: its binding is the
        // session's current query text.
        let open = pool.begin(victim).await.unwrap();
        let mut tx = pool.begin(attacker).await.unwrap();
        // Back to the login role first: in schema mode the transaction runs
        // as the schema's role, which may not read the app role's sessions.
        sqlx::raw_sql("RESET ROLE").execute(&mut tx).await.unwrap();
        let seen: Vec<String> =
            sqlx::query_scalar("SELECT query FROM pg_stat_activity WHERE pid <> pg_backend_pid()")
                .fetch_all(&mut tx)
                .await
                .unwrap();
        row[i] = match seen.iter().find(|q| q.contains(&victim.id().to_string())) {
            None => Outcome::NoRows,
            Some(binding) => {
                // Replayed as it was sent (its BEGIN only warns).
                sqlx::raw_sql(sqlx::AssertSqlSafe(binding.clone()))
                    .execute(&mut tx)
                    .await
                    .unwrap();
                let n: i64 = sqlx::query_scalar("SELECT count(*) FROM orders WHERE tenant_id = $1")
                    .bind(victim.id().as_uuid())
                    .fetch_one(&mut tx)
                    .await
                    .unwrap();
                if n > 0 {
                    Outcome::Leaked
                } else {
                    Outcome::NoRows
                }
            }
        };
        tx.rollback().await.unwrap();
        open.rollback().await.unwrap();
    }
    for (i, outcome) in row.iter().enumerate().skip(UNSEALED) {
        assert_ne!(
            *outcome,
            Outcome::Leaked,
            "pg_stat_activity replay, column {i}"
        );
    }
    assert_eq!(
        row[..UNSEALED],
        [Outcome::Leaked; UNSEALED],
        "the shared role shows the text"
    );
    row
}

const START: &str = "<!-- sealed-attacks:start (generated by tenancy-sqlx/tests/sealed.rs) -->";
const END: &str = "<!-- sealed-attacks:end -->";

fn render(
    w: &World,
    table: &BTreeMap<&'static str, [Outcome; COLUMNS]>,
    stats: [Outcome; COLUMNS],
) -> String {
    let headings: Vec<&str> = pairs(w).iter().map(|(heading, _, _)| *heading).collect();
    let mut md = format!(
        "| raw SQL in the attacker's transaction | {} |\n|---|{}\n",
        headings.join(" | "),
        "---|".repeat(COLUMNS)
    );
    let mut rows: Vec<(&str, [Outcome; COLUMNS])> = ATTACKS
        .iter()
        .map(|attack| (attack.name, table[attack.name]))
        .collect();
    rows.push((
        "`RESET ROLE`, read the victim's binding in `pg_stat_activity`, replay it",
        stats,
    ));
    for (name, row) in rows {
        let _ = writeln!(md, "| {name} | {} |", row.map(Outcome::cell).join(" | "));
    }
    md
}

/// `docs/attacks.md` is the source, `docs/isolation.md` its generated copy
/// (`cargo run -p tenancy-isolation`): both carry the table.
fn bless_or_compare(markdown: &str) {
    for doc in ["attacks.md", "isolation.md"] {
        let path = format!("{}/../docs/{doc}", env!("CARGO_MANIFEST_DIR"));
        let text = std::fs::read_to_string(&path).unwrap();
        let (Some(start), Some(end)) = (text.find(START), text.find(END)) else {
            panic!("docs/{doc} lacks the markers {START} and {END}");
        };
        let current = &text[start + START.len()..end];
        let wanted = format!("\n{markdown}");
        if current == wanted {
            continue;
        }
        if std::env::var_os("TENANCY_BLESS").is_some() {
            let updated = format!("{}{START}{wanted}{}", &text[..start], &text[end..]);
            std::fs::write(&path, updated).unwrap();
        } else {
            panic!(
                "the attack table in docs/{doc} is out of date; rerun with TENANCY_BLESS=1.\nMeasured:\n{markdown}"
            );
        }
    }
}

#[tokio::test]
async fn a_sealed_tenant_never_runs_on_the_shared_role_and_a_shared_one_never_on_a_sealed_role() {
    let w = world().await;
    // A plain pool of the app role refuses the sealed tenant.
    let plain = TenantPool::new(sqlx::PgPool::connect(w.db.app_url()).await.unwrap());
    let err = plain.begin(&w.a).await.unwrap_err();
    assert!(
        matches!(&err, Error::Tenant(TenantError::Sealed { id }) if *id == w.a.id().to_string()),
        "{err}"
    );
    // A routed pool without logins names what is missing.
    let main = TargetName::new("main").unwrap();
    let pool = RoutedPool::builder(PlacementRouter::new().with_default(main.clone()))
        .target(main, w.db.app_url().parse().unwrap())
        .build();
    let err = pool.begin(&w.a).await.unwrap_err();
    assert!(matches!(err, Error::NoSealedLogins { .. }), "{err}");
    // The shared role, even when the app binds a sealed tenant's setting
    // by hand, sees none of its rows.
    let mut tx = plain.begin(&w.c).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "SET LOCAL app.tenant_id = '{}'",
        w.a.id()
    )))
    .execute(&mut tx)
    .await
    .unwrap();
    assert_eq!(orders_seen(&mut tx).await, 0);
    tx.rollback().await.unwrap();
    // The sealed pool sees exactly its tenant's rows without any setting.
    let pool = routed_pool(w.db.app_url());
    let mut tx = pool.begin(&w.a).await.unwrap();
    sqlx::raw_sql("RESET app.tenant_id")
        .execute(&mut tx)
        .await
        .unwrap();
    assert_eq!(orders_seen(&mut tx).await, 2);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_rotation_falls_back_to_the_previous_secret() {
    let w = world().await;
    let main = TargetName::new("main").unwrap();
    let pool_with = |logins: SealedLogins| {
        RoutedPool::builder(PlacementRouter::new().with_default(main.clone()))
            .target(main.clone(), w.db.app_url().parse().unwrap())
            .sealed_logins(logins)
            .build()
    };
    // Another secret cannot log in as a's role.
    let stranger = pool_with(SealedLogins::new("other", &[7; 32]).unwrap());
    let err = stranger.begin(&w.a).await.unwrap_err();
    assert!(err.to_string().contains("password"), "{err}");
    assert!(
        !err.to_string()
            .contains(&logins().password(&SealedRole::for_tenant(&w.a.id())))
    );
    // New secret deployed before the roles are rotated: the pool falls back.
    let rotating = || {
        SealedLogins::new("test-2", &[9; 32])
            .unwrap()
            .with_previous("test-1", &SECRET)
            .unwrap()
    };
    let pool = pool_with(rotating());
    pool.begin(&w.a).await.unwrap().commit().await.unwrap();
    // Rotated: the new secret logs in, the old one no longer does.
    let provisioner = SealedProvisioner::new(
        sqlx::PgPool::connect(w.db.provisioner_url()).await.unwrap(),
        rotating(),
    );
    provisioner.rotate(&w.a.id()).await.unwrap();
    let fresh = pool_with(SealedLogins::new("test-2", &[9; 32]).unwrap());
    fresh.begin(&w.a).await.unwrap().commit().await.unwrap();
    let old = pool_with(logins());
    assert!(old.begin(&w.a).await.is_err());
}

#[tokio::test]
async fn unsealing_ends_the_roles_sessions_and_returns_the_rows_to_the_shared_path() {
    let w = world().await;
    let pool = routed_pool(w.db.app_url());
    let mut open = pool.begin(&w.a).await.unwrap();
    let _: i64 = sqlx::query_scalar("SELECT 1::bigint")
        .fetch_one(&mut open)
        .await
        .unwrap();
    w.provisioner.unseal(&w.a.id()).await.unwrap();
    // The session that was open is gone, not left with the shared path.
    assert!(
        sqlx::query_scalar::<_, i64>("SELECT 1::bigint")
            .fetch_one(&mut open)
            .await
            .is_err()
    );
    drop(open);
    // The role is gone; as a shared tenant, a's rows are on the shared path.
    let role = SealedRole::for_tenant(&w.a.id());
    assert_eq!(
        w.db.admin_sql(&format!(
            "SELECT count(*) FROM pg_roles WHERE rolname = '{role}'"
        ))
        .unwrap(),
        "0"
    );
    let shared_a = tenant(w.a.id(), "a", Placement::shared());
    let mut tx = pool.begin(&shared_a).await.unwrap();
    assert_eq!(orders_seen(&mut tx).await, 2);
    tx.rollback().await.unwrap();
}

#[tokio::test]
async fn nothing_a_sealed_tenant_leaves_on_its_connections_reaches_another_tenant() {
    let w = world().await;
    let pool = routed_pool(w.db.app_url());
    // a's injection leaves everything it can on its session.
    let mut tx = pool.begin(&w.a).await.unwrap();
    sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
        "COMMIT; SET app.tenant_id = '{b}'; SET search_path = pg_catalog; \
         PREPARE leftover AS SELECT 1; SET default_transaction_read_only = on; \
         SELECT pg_advisory_lock(42); LISTEN evil",
        b = w.b.id()
    )))
    .execute(&mut tx)
    .await
    .unwrap();
    drop(tx);
    // b's transactions, many of them, never see a's session: they run on
    // b's own connections, as b.
    for _ in 0..5 {
        let mut tx = pool.begin(&w.b).await.unwrap();
        let (who, path, prepared, n): (String, String, i64, i64) = sqlx::query_as(
            "SELECT session_user::text, current_setting('search_path'),
                    (SELECT count(*) FROM pg_prepared_statements WHERE name = 'leftover'),
                    (SELECT count(*) FROM public.orders)",
        )
        .fetch_one(&mut tx)
        .await
        .unwrap();
        assert_eq!(who, SealedRole::for_tenant(&w.b.id()).to_string());
        assert!(!path.starts_with("pg_catalog"), "{path}");
        assert_eq!((prepared, n), (0, 3));
        tx.commit().await.unwrap();
    }
    assert_eq!(pool.open_sealed_pools(), 2);
}

#[tokio::test]
async fn the_audit_accepts_the_sealed_tier_and_finds_each_way_it_can_break() {
    use tenancy_sqlx::audit::{AuditOptions, FindingCode, audit};
    let w = world().await;
    let admin = sqlx::PgPool::connect(w.db.admin_url()).await.unwrap();
    let codes = || async {
        let report = audit(
            &admin,
            &AuditOptions::default().app_role(tenancy_testing::APP_ROLE),
        )
        .await
        .unwrap();
        report
            .findings
            .iter()
            .map(|f| (f.code, f.object.clone()))
            .collect::<Vec<_>>()
    };
    let policy_codes = [
        FindingCode::MultiplePermissivePolicies,
        FindingCode::PolicyNotTenantScoped,
        FindingCode::WriteNotChecked,
        FindingCode::SealedPolicyMissing,
        FindingCode::SealedMapWritable,
        FindingCode::SealedRoleUnsafe,
    ];
    let clean = codes().await;
    assert!(
        clean.iter().all(|(code, _)| !policy_codes.contains(code)),
        "{clean:?}"
    );
    let (role_a, role_b) = (
        SealedRole::for_tenant(&w.a.id()).sql(),
        SealedRole::for_tenant(&w.b.id()).sql(),
    );
    for (breakage, code, repair) in [
        (
            "DROP POLICY tenant_sealed_wall ON orders".to_owned(),
            FindingCode::SealedPolicyMissing,
            TenantPolicy::new("orders").unwrap().sealed_sql(),
        ),
        (
            "ALTER TABLE tenancy_sealed_roles NO FORCE ROW LEVEL SECURITY".to_owned(),
            FindingCode::SealedMapWritable,
            "ALTER TABLE tenancy_sealed_roles FORCE ROW LEVEL SECURITY".to_owned(),
        ),
        (
            "CREATE POLICY anyone ON tenancy_sealed_roles FOR UPDATE USING (true)".to_owned(),
            FindingCode::SealedMapWritable,
            "DROP POLICY anyone ON tenancy_sealed_roles".to_owned(),
        ),
        (
            format!("GRANT {role_b} TO {role_a}"),
            FindingCode::SealedRoleUnsafe,
            format!("REVOKE {role_b} FROM {role_a}"),
        ),
        (
            format!("ALTER ROLE {role_a} BYPASSRLS"),
            FindingCode::SealedRoleUnsafe,
            format!("ALTER ROLE {role_a} NOBYPASSRLS"),
        ),
        (
            format!("GRANT {role_a} TO {}", tenancy_testing::APP_ROLE),
            FindingCode::SealedRoleUnsafe,
            format!("REVOKE {role_a} FROM {}", tenancy_testing::APP_ROLE),
        ),
    ] {
        w.db.admin_sql(&breakage).unwrap();
        let found = codes().await;
        assert!(
            found.iter().any(|(c, _)| *c == code),
            "{breakage}: {found:?}"
        );
        w.db.admin_sql(&repair).unwrap();
        let found = codes().await;
        assert!(
            found.iter().all(|(c, _)| !policy_codes.contains(c)),
            "after {repair}: {found:?}"
        );
    }
}

#[tokio::test]
async fn a_tenant_moves_into_the_sealed_tier_and_back_with_its_rows() {
    let w = world().await;
    let pool = routed_pool(w.db.app_url());
    let plain = TenantPool::new(sqlx::PgPool::connect(w.db.app_url()).await.unwrap());
    // c is a shared tenant with 4 orders. Into the tier: role and map
    // entry first, then its placement.
    w.provisioner.seal(&w.c.id()).await.unwrap();
    let sealed_c = tenant(w.c.id(), "c", Placement::sealed());
    let mut tx = pool.begin(&sealed_c).await.unwrap();
    assert_eq!(orders_seen(&mut tx).await, 4);
    tx.commit().await.unwrap();
    // A stale directory entry that still says "shared" reaches nothing.
    let mut tx = plain.begin(&w.c).await.unwrap();
    assert_eq!(orders_seen(&mut tx).await, 0);
    tx.rollback().await.unwrap();
    // Out of the tier: placement shared first, then unseal.
    w.provisioner.unseal(&w.c.id()).await.unwrap();
    let mut tx = plain.begin(&w.c).await.unwrap();
    assert_eq!(orders_seen(&mut tx).await, 4);
    tx.rollback().await.unwrap();
    assert_eq!(w.real_count(&w.c), 4);
}

/// Each sealed role gets the server-side connection cap it was provisioned
/// with (default 4, at least 1, or none), and `is_sealed` answers from the
/// map.
#[tokio::test]
async fn sealed_roles_carry_their_connection_limit_and_are_found_in_the_map() {
    let w = world().await;
    let manager = || async { sqlx::PgPool::connect(w.db.provisioner_url()).await.unwrap() };
    let limit_of = |id: TenantId| {
        let role = SealedRole::for_tenant(&id);
        w.db.admin_sql(&format!(
            "SELECT rolconnlimit FROM pg_roles WHERE rolname = '{role}'"
        ))
        .unwrap()
    };
    assert!(w.provisioner.is_sealed(&w.a.id()).await.unwrap());
    assert!(!w.provisioner.is_sealed(&w.c.id()).await.unwrap());
    assert_eq!(limit_of(w.a.id()), "4");
    SealedProvisioner::new(manager().await, logins())
        .connection_limit(None)
        .seal(&w.c.id())
        .await
        .unwrap();
    assert_eq!(limit_of(w.c.id()), "-1");
    SealedProvisioner::new(manager().await, logins())
        .connection_limit(Some(0))
        .seal(&w.d.id())
        .await
        .unwrap();
    assert_eq!(limit_of(w.d.id()), "1");
    assert!(w.provisioner.is_sealed(&w.c.id()).await.unwrap());

    // The server enforces the limit: a second connection of d is refused
    // (sqlx waits for a slot until its acquire timeout), and that refusal
    // is not taken for a wrong password to retry with an older secret.
    let main = TargetName::new("main").unwrap();
    let pool = RoutedPool::builder(PlacementRouter::new().with_default(main.clone()))
        .target(main, w.db.app_url().parse().unwrap())
        .sealed_logins(logins().with_previous("old", &[5; 32]).unwrap())
        .sealed_pool_options(
            sqlx::postgres::PgPoolOptions::new()
                .max_connections(2)
                .acquire_timeout(std::time::Duration::from_secs(2)),
        )
        .build();
    let d = tenant(w.d.id(), "d", Placement::sealed());
    let first = pool.begin(&d).await.unwrap();
    let err = pool.begin(&d).await.unwrap_err();
    let chain = format!("{err:?}");
    assert!(chain.contains("PoolTimedOut"), "{chain}");
    first.commit().await.unwrap();
}

#[tokio::test]
async fn the_lifecycle_creates_and_deletes_a_sealed_tenant_with_its_role() {
    use tenancy_sqlx::PgTenantStore;
    use tenancy_sqlx::lifecycle::TenantLifecycle;
    let w = world().await;
    let store = PgTenantStore::new(sqlx::PgPool::connect(w.db.owner_url()).await.unwrap());
    w.db.owner_sql(&store.create_table_sql()).unwrap();
    let pool = routed_pool(w.db.app_url());
    let lifecycle = TenantLifecycle::new(store, pool.clone()).with_sealed(SealedProvisioner::new(
        sqlx::PgPool::connect(w.db.provisioner_url()).await.unwrap(),
        logins(),
    ));
    let e = tenant(TenantId::new_v4(), "e", Placement::sealed());
    lifecycle.create(&e, None).await.unwrap();
    let mut tx = pool.begin(&e).await.unwrap();
    sqlx::query("INSERT INTO orders (item) VALUES ('one'), ('two')")
        .execute(&mut tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    assert_eq!(w.real_count(&e), 2);
    let plan = lifecycle.delete(&e, true).await.unwrap();
    assert_eq!(plan.tables, [("public.orders".to_owned(), 2)]);
    lifecycle.delete(&e, false).await.unwrap();
    assert_eq!(w.real_count(&e), 0);
    let role = SealedRole::for_tenant(&e.id());
    assert_eq!(
        w.db.admin_sql(&format!(
            "SELECT count(*) FROM pg_roles WHERE rolname = '{role}'"
        ))
        .unwrap(),
        "0"
    );
    // The other tenants kept their rows.
    assert_eq!(all_counts(&w), [2, 3, 4, 5, 6, 7]);
}

async fn orders_seen(tx: &mut TenantTx) -> i64 {
    sqlx::query_scalar("SELECT count(*) FROM orders")
        .fetch_one(tx)
        .await
        .unwrap()
}

//! The harness itself, against a real PostgreSQL.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

use std::path::Path;
use std::time::Instant;

use tenancy_testing::{APP_ROLE, OWNER_ROLE, PgCluster, PgServer, test_database};

#[test]
fn app_role_is_not_superuser_not_owner_and_cannot_bypass_rls() {
    let db = test_database();
    db.owner_sql("CREATE TABLE orders (id int PRIMARY KEY, tenant_id uuid NOT NULL)")
        .unwrap();

    // Connected as the app role, the server reports the role's powers.
    let row = db
        .app_sql(
            "SELECT current_user, rolsuper, rolbypassrls, rolcreaterole, rolcreatedb \
             FROM pg_roles WHERE rolname = current_user",
        )
        .unwrap();
    assert_eq!(row, format!("{APP_ROLE}|f|f|f|f"));

    // It owns nothing: the table belongs to the owner role ...
    let owner = db
        .app_sql("SELECT tableowner FROM pg_tables WHERE tablename = 'orders'")
        .unwrap();
    assert_eq!(owner, OWNER_ROLE);
    let owned_relations = db
        .app_sql("SELECT count(*) FROM pg_class WHERE relowner = (SELECT oid FROM pg_roles WHERE rolname = current_user)")
        .unwrap();
    assert_eq!(owned_relations, "0");

    // ... so it cannot change the table or switch RLS off ...
    let err = db
        .app_sql("ALTER TABLE orders DISABLE ROW LEVEL SECURITY")
        .unwrap_err()
        .to_string();
    assert!(err.contains("must be owner"), "{err}");

    // ... but it can use the rows it was granted.
    db.app_sql("INSERT INTO orders VALUES (1, gen_random_uuid())")
        .unwrap();
    assert_eq!(db.app_sql("SELECT count(*) FROM orders").unwrap(), "1");
}

#[test]
fn each_test_database_is_fresh_and_separate() {
    let a = test_database();
    let b = test_database();
    assert_ne!(a.name(), b.name());
    a.owner_sql("CREATE TABLE only_in_a (x int)").unwrap();
    let err = b
        .app_sql("SELECT * FROM only_in_a")
        .unwrap_err()
        .to_string();
    assert!(err.contains("does not exist"), "{err}");
}

#[test]
fn dropping_a_test_database_removes_it() {
    let server = PgServer::shared().unwrap();
    let db = server.create_database().unwrap();
    let name = db.name().to_owned();
    drop(db);
    let left = server
        .admin_sql(&format!(
            "SELECT count(*) FROM pg_database WHERE datname = '{name}'"
        ))
        .unwrap();
    assert_eq!(left, "0");
}

#[test]
fn a_dedicated_cluster_starts_and_is_stopped_by_pid_on_drop() {
    let began = Instant::now();
    let cluster = PgCluster::start().unwrap();
    eprintln!(
        "cluster start: {:.2} s (initdb + server ready), measured end to end {:.2} s",
        cluster.started_in().as_secs_f64(),
        began.elapsed().as_secs_f64()
    );
    let pid = cluster.pid();
    let dir = cluster.dir().to_path_buf();
    assert!(Path::new(&format!("/proc/{pid}")).exists());
    assert!(dir.join("data").join("PG_VERSION").exists());

    cluster.stop();

    assert!(
        !Path::new(&format!("/proc/{pid}")).exists(),
        "postgres (pid {pid}) still runs after stop"
    );
    assert!(!dir.exists(), "{} was not removed", dir.display());
}

#[test]
fn a_panicking_test_still_stops_its_cluster() {
    let (pid, dir) = std::panic::catch_unwind(|| {
        let cluster = PgCluster::start().unwrap();
        let seen = (cluster.pid(), cluster.dir().to_path_buf());
        std::panic::panic_any(seen);
    })
    .unwrap_err()
    .downcast::<(u32, std::path::PathBuf)>()
    .map(|b| *b)
    .unwrap();
    assert!(!Path::new(&format!("/proc/{pid}")).exists());
    assert!(!dir.exists());
}

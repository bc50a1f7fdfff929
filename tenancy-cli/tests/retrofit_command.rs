//! `tenancy retrofit` on a database shaped like a typical existing app:
//! `account_id bigint` tenant columns, single-column primary keys, foreign
//! keys and a unique email without the tenant, an unindexed and nullable
//! tenant column, a view, no row-level security. Plan, dry run, apply,
//! audit clean; then the application's own handlers (tower layer, bigint
//! tenant ids, scoped builders) on it, with row-level security enforced.

#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers

mod common;

use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::routing::get;
use common::{tenancy, text};
use http::{Request, StatusCode};
use http_body_util::BodyExt;
use sqlx::postgres::PgPoolOptions;
use tenancy_core::{InMemoryTenantStore, Tenant, TenantId};
use tenancy_sqlx::{Scoped, TenantPool};
use tenancy_testing::probe::{HttpProbe, cross_tenant_sql};
use tenancy_testing::{APP_ROLE, TestDatabase};
use tenancy_tower::strategy::Header;
use tenancy_tower::{CurrentTenant, TenantLayer};
use tower::ServiceExt;

/// The existing app, as its migrations left it.
const EXISTING_APP: &str = "
    CREATE TABLE accounts (id bigserial PRIMARY KEY, slug text NOT NULL UNIQUE, name text NOT NULL);
    CREATE TABLE plans (code text PRIMARY KEY, price_cents integer NOT NULL);
    CREATE TABLE users (
        id bigserial PRIMARY KEY,
        account_id bigint NOT NULL REFERENCES accounts (id),
        email text NOT NULL UNIQUE);
    CREATE TABLE projects (
        id bigserial PRIMARY KEY,
        account_id bigint NOT NULL REFERENCES accounts (id),
        name text NOT NULL);
    CREATE TABLE tasks (
        id bigserial PRIMARY KEY,
        account_id bigint,
        project_id bigint NOT NULL REFERENCES projects (id) ON DELETE CASCADE,
        assignee_id bigint REFERENCES users (id) ON DELETE SET NULL,
        title text NOT NULL);
    CREATE VIEW open_tasks AS SELECT id, account_id, title FROM tasks;
    INSERT INTO accounts (id, slug, name) VALUES (1, 'acme', 'Acme'), (2, 'globex', 'Globex');
    INSERT INTO plans VALUES ('free', 0), ('pro', 4900);
    INSERT INTO users (id, account_id, email) VALUES (10, 1, 'ann@acme.test'), (20, 2, 'bob@globex.test');
    INSERT INTO projects (id, account_id, name) VALUES (100, 1, 'Launch'), (200, 2, 'Merger');
    INSERT INTO tasks (account_id, project_id, assignee_id, title) VALUES
        (1, 100, 10, 'acme: write the press release'),
        (1, 100, NULL, 'acme: book the venue'),
        (2, 200, 20, 'globex: sign the papers');
    SELECT setval('tasks_id_seq', 1000);
";

fn existing_app() -> TestDatabase {
    let db = tenancy_testing::test_database();
    db.owner_sql(EXISTING_APP).unwrap();
    db
}

/// `tenancy COMMAND` on this app's database as `url`, with its tenant
/// column, shared tables and runtime role, then `extra`.
fn command(command: &str, url: &str, app_role: &str, extra: &[&str]) -> std::process::Output {
    let mut args = vec![
        command,
        "--database-url",
        url,
        "--tenant-column",
        "account_id",
        "--shared-table",
        "accounts",
        "--shared-table",
        "plans",
        "--app-role",
        app_role,
    ];
    args.extend_from_slice(extra);
    tenancy(&args)
}

/// `tenancy retrofit` with this app's options, as the tables' owner.
fn retrofit(db: &TestDatabase, extra: &[&str]) -> std::process::Output {
    retrofit_as(db, APP_ROLE, extra)
}

fn retrofit_as(db: &TestDatabase, app_role: &str, extra: &[&str]) -> std::process::Output {
    command("retrofit", db.owner_url(), app_role, extra)
}

/// `tenancy audit`, failing on any finding.
fn audit(db: &TestDatabase) -> std::process::Output {
    command("audit", db.admin_url(), APP_ROLE, &["--fail-on", "low"])
}

fn rls_on(db: &TestDatabase, table: &str) -> String {
    db.admin_sql(&format!(
        "SELECT relrowsecurity || '/' || relforcerowsecurity FROM pg_class WHERE oid = 'public.{table}'::regclass"
    ))
    .unwrap()
}

#[test]
fn the_plan_is_sql_for_review_and_changes_nothing() {
    let db = existing_app();
    let out = retrofit(&db, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    for expected in [
        "-- Tenant ids are of type bigint; tenant tables: public.projects, public.tasks, public.users.",
        "ALTER TABLE \"public\".\"tasks\" ALTER COLUMN \"account_id\" SET NOT NULL;",
        "CREATE INDEX IF NOT EXISTS \"tasks_account_id_idx\" ON \"public\".\"tasks\" (\"account_id\");",
        "USING (\"account_id\" = (SELECT nullif(current_setting('app.tenant_id', true), '')::bigint))",
        "ALTER TABLE \"public\".\"users\" DROP CONSTRAINT \"users_pkey\", ADD CONSTRAINT \"users_pkey\" PRIMARY KEY (\"account_id\", \"id\");",
        "ADD CONSTRAINT \"users_email_key\" UNIQUE (\"account_id\", \"email\");",
        "FOREIGN KEY (\"account_id\", \"project_id\") REFERENCES \"public\".\"projects\" (\"account_id\", \"id\") ON DELETE CASCADE",
        "FOREIGN KEY (\"account_id\", \"assignee_id\") REFERENCES \"public\".\"users\" (\"account_id\", \"id\") ON DELETE SET NULL (\"assignee_id\")",
        "ALTER VIEW \"public\".\"open_tasks\" SET (security_invoker = true);",
        "REVOKE TEMPORARY ON DATABASE",
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA \"public\" TO \"tenancy_app\";",
        "ALTER TABLE \"public\".\"tasks\" FORCE ROW LEVEL SECURITY;",
    ] {
        assert!(plan.contains(expected), "missing {expected}\n{plan}");
    }
    // The tenants table and the plans are shared: not touched.
    assert!(!plan.contains("\"accounts\" ENABLE"), "{plan}");
    assert!(!plan.contains("\"plans\" ENABLE"), "{plan}");
    // FORCE comes last, after the runtime role.
    assert!(plan.rfind("FORCE ROW LEVEL SECURITY") > plan.find("REVOKE TEMPORARY"));
    assert_eq!(
        rls_on(&db, "tasks"),
        "false/false",
        "the plan changed the database"
    );

    // The audit of the database as it is finds the leaks the plan fixes.
    let before = audit(&db);
    assert_eq!(before.status.code(), Some(1), "{}", text(&before));
    for code in [
        "rls_disabled on public.tasks",
        "fk_without_tenant",
        "unique_without_tenant",
        "view_bypasses_rls",
    ] {
        assert!(text(&before).contains(code), "{code}\n{}", text(&before));
    }
}

#[test]
fn the_plan_names_what_it_cannot_decide() {
    let db = existing_app();
    db.owner_sql(
        "CREATE TABLE audit_log (id bigserial PRIMARY KEY, line text);
         CREATE UNIQUE INDEX users_lower_email ON users (lower(email));
         UPDATE tasks SET account_id = NULL WHERE title LIKE 'acme: book%';",
    )
    .unwrap();
    let out = retrofit_as(&db, "saas_runtime", &["--no-force"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let plan = String::from_utf8_lossy(&out.stdout);
    for note in [
        "-- NOTE: public.audit_log has no column account_id: declare it shared (--shared-table audit_log) or give its rows to a tenant (--backfill-owner ID)",
        "-- NOTE: users_lower_email on public.users is a unique index on expressions",
        "-- NOTE: public.tasks has 1 rows without a tenant (account_id IS NULL)",
        "CREATE ROLE \"saas_runtime\" LOGIN NOSUPERUSER NOBYPASSRLS",
    ] {
        assert!(plan.contains(note), "missing {note}\n{plan}");
    }
    assert!(
        !plan.contains("FORCE ROW LEVEL SECURITY;"),
        "--no-force\n{plan}"
    );

    // A tenant id of the wrong type for the backfill is a clear error.
    let bad = retrofit(&db, &["--backfill-owner", "acme"]);
    assert_eq!(bad.status.code(), Some(2), "{}", text(&bad));
    assert!(
        text(&bad).contains("positive whole number"),
        "{}",
        text(&bad)
    );
}

#[test]
fn a_failing_plan_changes_nothing() {
    let db = existing_app();
    // A task without a tenant: the NOT NULL step fails, so everything rolls back.
    db.owner_sql("UPDATE tasks SET account_id = NULL WHERE id = (SELECT min(id) FROM tasks)")
        .unwrap();
    let out = retrofit(&db, &["--apply"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    assert!(text(&out).contains("nothing was changed"), "{}", text(&out));
    assert_eq!(rls_on(&db, "tasks"), "false/false");
    assert_eq!(rls_on(&db, "users"), "false/false");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_run_then_apply_then_the_app_runs_isolated() {
    let db = existing_app();

    let dry = retrofit(&db, &["--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry));
    assert!(
        text(&dry).contains("dry run: the plan applies"),
        "{}",
        text(&dry)
    );
    assert_eq!(
        rls_on(&db, "tasks"),
        "false/false",
        "a dry run changed the database"
    );

    let applied = retrofit(&db, &["--apply"]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    assert_eq!(rls_on(&db, "tasks"), "true/true");
    let after = audit(&db);
    assert_eq!(after.status.code(), Some(0), "{}", text(&after));
    assert!(
        text(&after).contains("3 tenant table(s), 0 finding(s)"),
        "{}",
        text(&after)
    );
    // Run again: nothing left to do but the grants and FORCE, which are idempotent.
    let again = retrofit(&db, &[]);
    let again = String::from_utf8_lossy(&again.stdout);
    assert!(!again.contains("DROP CONSTRAINT"), "{again}");
    assert!(!again.contains("-- NOTE:"), "{again}");

    app_on_the_retrofitted_database(&db).await;
}

tenancy_sqlx::tenant_table!(
    Tasks = "tasks",
    tenant_column = "account_id",
    id = i64 {
        id: i64,
        project_id: i64,
        title: String,
    }
);

/// `GET /tasks`: the tenant's tasks, one title per line.
async fn tasks(
    State(pool): State<TenantPool<i64>>,
    CurrentTenant(tenant): CurrentTenant<i64>,
) -> Result<String, StatusCode> {
    let mut tx = pool
        .begin(&tenant)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let rows: Vec<(i64, String)> = Scoped::<Tasks>::select()
        .column(Tasks::id)
        .column(Tasks::title)
        .order_by(Tasks::id, tenancy_sqlx::Order::Asc)
        .for_tenant(&tenant)
        .fetch_all(&mut tx)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    tx.commit()
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    Ok(rows
        .into_iter()
        .map(|(_, title)| title)
        .collect::<Vec<_>>()
        .join("\n"))
}

/// The application after adoption: bigint tenant ids, the tenant from a
/// header, a handler on the scoped builders, connected as the runtime role.
async fn app_on_the_retrofitted_database(db: &TestDatabase) {
    let pg = PgPoolOptions::new()
        .max_connections(4)
        .connect(db.app_url())
        .await
        .unwrap();
    // The tenants come from the shared accounts table.
    let store = InMemoryTenantStore::<i64>::default();
    let accounts: Vec<(i64, String, String)> =
        sqlx::query_as("SELECT id, slug, name FROM accounts ORDER BY id")
            .fetch_all(&pg)
            .await
            .unwrap();
    for (id, slug, name) in accounts {
        store.insert(
            Tenant::builder(TenantId::new(id).unwrap(), slug.parse().unwrap())
                .name(name)
                .build(),
        );
    }
    let pool = TenantPool::<i64>::from(pg.clone());

    let app = Router::new()
        .route("/tasks", get(tasks))
        .with_state(pool.clone())
        .layer(
            TenantLayer::builder(store.clone())
                .strategy(Header::x_tenant())
                .build(),
        );
    let get_tasks = |tenant: &'static str| {
        let app = app.clone();
        async move {
            let response = app
                .oneshot(
                    Request::get("/tasks")
                        .header("x-tenant", tenant)
                        .body(Body::empty())
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = response.status();
            let body = response.into_body().collect().await.unwrap().to_bytes();
            (status, String::from_utf8_lossy(&body).into_owned())
        }
    };

    // Each tenant sees its own tasks, by id or by slug, exactly what an
    // explicit WHERE (as a superuser, past every policy) returns.
    let explicit = |account: i64| {
        db.admin_sql(&format!(
            "SELECT string_agg(title, E'\\n' ORDER BY id) FROM tasks WHERE account_id = {account}"
        ))
        .unwrap()
    };
    let (status, acme) = get_tasks("1").await;
    assert_eq!(status, StatusCode::OK, "{acme}");
    assert_eq!(acme, "acme: write the press release\nacme: book the venue");
    assert_eq!(acme, explicit(1));
    assert_eq!(get_tasks("acme").await.1, acme);
    assert_eq!(get_tasks("2").await.1, explicit(2));
    // Log in as acme, try globex's tasks by id: every method is denied.
    let globex_tasks = db
        .admin_sql("SELECT id FROM tasks WHERE account_id = 2")
        .unwrap();
    let as_acme = |method: &str, path: String| {
        Request::builder()
            .method(method)
            .uri(path)
            .header("x-tenant", "acme")
            .body(Body::empty())
            .unwrap()
    };
    let app_with_task_route = Router::new()
        .route("/tasks/{id}", get(task).delete(task))
        .with_state(pool.clone())
        .layer(
            TenantLayer::builder(store.clone())
                .strategy(Header::x_tenant())
                .build(),
        );
    let probe = HttpProbe::send_all(
        app_with_task_route,
        globex_tasks
            .lines()
            .flat_map(|id| ["GET", "DELETE"].map(|m| as_acme(m, format!("/tasks/{id}")))),
    )
    .await;
    probe.assert_denied();
    // Unknown, malformed or mistyped tenant ids: 4xx with a reason, never a 500.
    assert_eq!(get_tasks("3").await.0, StatusCode::NOT_FOUND);
    assert_eq!(get_tasks("0").await.0, StatusCode::BAD_REQUEST);
    assert_eq!(
        get_tasks("67e55044-10b1-426f-9247-bb680e5fe0c8").await.0,
        StatusCode::NOT_FOUND
    );

    database_wall_alone(db, &pool).await;
    pg.close().await;
}

/// `GET` or `DELETE /tasks/{id}`: the tenant's task by id, 404 otherwise.
async fn task(
    State(pool): State<TenantPool<i64>>,
    CurrentTenant(tenant): CurrentTenant<i64>,
    axum::extract::Path(id): axum::extract::Path<i64>,
) -> Result<String, StatusCode> {
    let mut tx = pool
        .begin(&tenant)
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    let title: Option<String> = Scoped::<Tasks>::select()
        .column(Tasks::title)
        .where_eq(Tasks::id, id)
        .for_tenant(&tenant)
        .fetch_optional(&mut tx)
        .await
        .map(|row: Option<(String,)>| row.map(|(title,)| title))
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    tx.rollback()
        .await
        .map_err(|_| StatusCode::INTERNAL_SERVER_ERROR)?;
    title.ok_or(StatusCode::NOT_FOUND)
}

/// The database wall alone: raw SQL in a tenant's transaction, no builder.
async fn database_wall_alone(db: &TestDatabase, pool: &TenantPool<i64>) {
    // Log in as acme, try every one of globex's ids with a forgotten WHERE.
    for table in ["tasks", "projects", "users"] {
        cross_tenant_sql(db, "app.tenant_id", table, "account_id", "id", "1", "2")
            .unwrap()
            .assert_isolated();
    }
    // Raw SQL in acme's transaction sees only acme,
    // and cannot insert into globex or point at globex's project.
    let acme = Tenant::builder(TenantId::new(1_i64).unwrap(), "acme".parse().unwrap()).build();
    let mut tx = pool.begin(&acme).await.unwrap();
    let seen: Vec<i64> = sqlx::query_scalar("SELECT DISTINCT account_id FROM tasks")
        .fetch_all(&mut tx)
        .await
        .unwrap();
    assert_eq!(seen, vec![1]);
    let views: i64 = sqlx::query_scalar("SELECT count(*) FROM open_tasks")
        .fetch_one(&mut tx)
        .await
        .unwrap();
    assert_eq!(views, 2, "the view runs as the caller, under the policy");
    tx.rollback().await.unwrap();
    for attack in [
        "INSERT INTO tasks (account_id, project_id, title) VALUES (2, 200, 'into globex')",
        "INSERT INTO tasks (project_id, title) VALUES (200, 'onto globex''s project')",
    ] {
        let mut tx = pool.begin(&acme).await.unwrap();
        let result = sqlx::query(attack).execute(&mut tx).await;
        assert!(result.is_err(), "{attack} succeeded");
        tx.rollback().await.unwrap();
    }
    // Inserting without the tenant column gets the transaction's tenant.
    let mut tx = pool.begin(&acme).await.unwrap();
    let owner: i64 = sqlx::query_scalar(
        "INSERT INTO tasks (project_id, title) VALUES (100, 'acme: new') RETURNING account_id",
    )
    .fetch_one(&mut tx)
    .await
    .unwrap();
    assert_eq!(owner, 1);
    tx.commit().await.unwrap();
}

#[test]
fn a_single_tenant_table_is_backfilled_to_its_owner() {
    let db = existing_app();
    // Data of the days before accounts: it all belonged to acme.
    db.owner_sql(
        "CREATE TABLE settings (id bigserial PRIMARY KEY, key text NOT NULL, value text NOT NULL);
         INSERT INTO settings (key, value) VALUES ('currency', 'EUR'), ('theme', 'dark');",
    )
    .unwrap();
    let plan = retrofit(&db, &["--backfill-owner", "1"]);
    let plan_sql = String::from_utf8_lossy(&plan.stdout);
    assert!(
        plan_sql.contains(
            "ALTER TABLE \"public\".\"settings\" ADD COLUMN IF NOT EXISTS \"account_id\" bigint;"
        ),
        "{plan_sql}"
    );
    assert!(
        plan_sql.contains(
            "UPDATE \"public\".\"settings\" SET \"account_id\" = '1' WHERE \"account_id\" IS NULL;"
        ),
        "{plan_sql}"
    );
    let applied = retrofit(&db, &["--backfill-owner", "1", "--apply"]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    assert_eq!(
        db.admin_sql("SELECT string_agg(DISTINCT account_id::text, ',') FROM settings")
            .unwrap(),
        "1"
    );
    assert_eq!(rls_on(&db, "settings"), "true/true");
    // A second run sees the new tenant table and makes its key composite.
    let again = retrofit(&db, &[]);
    let again = String::from_utf8_lossy(&again.stdout);
    assert!(
        again.contains("ADD CONSTRAINT \"settings_pkey\" PRIMARY KEY (\"account_id\", \"id\");"),
        "{again}"
    );
    let applied = retrofit(&db, &["--apply"]);
    assert_eq!(applied.status.code(), Some(0), "{}", text(&applied));
    let after = audit(&db);
    assert!(
        text(&after).contains("4 tenant table(s), 0 finding(s)"),
        "{}",
        text(&after)
    );
}

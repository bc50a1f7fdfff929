//! A runnable tour of `tenancy-core`: `cargo run -p quickstart`.
//!
//! Two tenants, acme and globex, do some work at the same time. Each step
//! prints what happened and checks it; the program exits non-zero if any
//! step misbehaves.

use std::process::ExitCode;

use tenancy_core::{Tenant, TenantContext, TenantError, TenantId, TenantJob, WithTenant};

struct Story {
    failures: usize,
}

impl Story {
    fn step(&mut self, what: &str, ok: bool, detail: impl std::fmt::Display) {
        let mark = if ok { "ok  " } else { "FAIL" };
        println!("[{mark}] {what}: {detail}");
        if !ok {
            self.failures += 1;
        }
    }
}

fn tenant(slug: &str, name: &str) -> Result<Tenant, TenantError> {
    Ok(Tenant::builder(TenantId::new_v4(), slug.parse()?)
        .name(name)
        .build())
}

#[tokio::main]
async fn main() -> ExitCode {
    match run().await {
        Ok(0) => {
            println!("\nAll steps behaved as expected.");
            ExitCode::SUCCESS
        }
        Ok(n) => {
            println!("\n{n} step(s) misbehaved.");
            ExitCode::FAILURE
        }
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> Result<usize, TenantError> {
    let mut story = Story { failures: 0 };
    let acme = tenant("acme", "Acme Restaurant")?;
    let globex = tenant("globex", "Globex Burgers")?;
    println!("Tenants: acme = {}, globex = {}\n", acme.id(), globex.id());

    // 1. Outside any scope, nothing tenant-specific can be built.
    let key = tenancy_core::cache_key("menu");
    story.step(
        "cache key without a tenant",
        key == Err(TenantError::Missing),
        key.unwrap_or_else(|e| e.to_string()),
    );

    // 2. Untrusted ids are parsed, never assumed.
    let id = "acme'; DROP TABLE orders; --".parse::<TenantId>();
    story.step(
        "tenant id from hostile input",
        matches!(id, Err(TenantError::InvalidId { .. })),
        id.map_or_else(|e| e.to_string(), |id| id.to_string()),
    );

    // 3. Two tenants work concurrently; each sees only itself.
    let work = |t: Tenant| {
        async move {
            tokio::task::yield_now().await;
            let me = TenantContext::current()?;
            Ok::<_, TenantError>((me.slug().to_string(), tenancy_core::cache_key("menu")?))
        }
        .with_tenant(t)
    };
    let (a, g) = tokio::join!(work(acme.clone()), work(globex.clone()));
    let (a, g) = (a?, g?);
    story.step(
        "acme's concurrent work",
        a.0 == "acme",
        format!("sees {} and key {}", a.0, a.1),
    );
    story.step(
        "globex's concurrent work",
        g.0 == "globex",
        format!("sees {} and key {}", g.0, g.1),
    );

    // 4. tokio::spawn does not inherit the tenant; tenancy_core::spawn does.
    let (plain, helper) = TenantContext::scope(acme.clone(), async {
        let plain = tokio::spawn(async { TenantContext::current() }).await;
        let helper = match tenancy_core::spawn(async { TenantContext::current() }) {
            Ok(handle) => handle.await.ok(),
            Err(_) => None,
        };
        (plain, helper)
    })
    .await;
    story.step(
        "plain tokio::spawn inside acme's scope",
        matches!(plain, Ok(Err(TenantError::Missing))),
        "fails closed: no tenant",
    );
    let helper_ok = matches!(&helper, Some(Ok(t)) if t.id() == acme.id());
    story.step(
        "tenancy_core::spawn inside acme's scope",
        helper_ok,
        "runs as acme",
    );

    // 5. Storage paths stay inside the tenant's directory.
    let paths = TenantContext::sync_scope(globex.clone(), || {
        (
            tenancy_core::storage_path("receipts/42.pdf"),
            tenancy_core::storage_path("../acme/receipts/42.pdf"),
        )
    });
    let good = paths.0?;
    story.step(
        "globex's receipt path",
        good.starts_with(format!("tenants/{}", globex.id())),
        good.display(),
    );
    story.step(
        "path escaping to acme's files",
        matches!(paths.1, Err(TenantError::InvalidPath { .. })),
        paths
            .1
            .map_or_else(|e| e.to_string(), |p| p.display().to_string()),
    );

    // 6. A background job carries its tenant and refuses to run as another.
    let job = TenantContext::sync_scope(acme.clone(), || {
        TenantJob::new("send-receipt:42".to_owned())
    })?;
    let wire = serde_json::to_string(&job).unwrap_or_default();
    println!("\n       queued job: {wire}");
    let wrong = job.clone().run(globex.clone(), |_| async {}).await;
    story.step(
        "acme's job given to globex",
        matches!(wrong, Err(TenantError::Mismatch { .. })),
        wrong.map_or_else(|e| e.to_string(), |()| "ran".to_owned()),
    );
    let right = job
        .run(acme.clone(), |payload| async move {
            tenancy_core::cache_key(&payload)
        })
        .await?;
    story.step(
        "acme's job given to acme",
        right.is_ok(),
        right.unwrap_or_else(|e| e.to_string()),
    );

    Ok(story.failures)
}

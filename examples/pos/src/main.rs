//! `pos`: the multi-tenant point-of-sale demo.
//!
//! - `cargo run -p pos` plays the scripted demo against a fresh embedded
//!   PostgreSQL (or `DATABASE_URL`) and exits 0 only if every step behaved.
//! - `cargo run -p pos -- serve --listen 127.0.0.1:3000` serves until Ctrl-C.
//! - `--mode schema` (either command) keeps each tenant's orders in a schema
//!   of its own instead of one shared table under row-level security.

use std::net::SocketAddr;
use std::process::ExitCode;

use pos::{Database, Mode, Server};

const USAGE: &str =
    "usage: pos [--mode shared|schema]                               run the scripted demo
       pos serve [--listen 127.0.0.1:3000] [--mode shared|schema]  serve the API until Ctrl-C

--mode shared (default): one orders table for all tenants, under row-level security.
--mode schema: each tenant's orders in its own schema, reached through its own role.

DATABASE_URL (optional): an administrator URL; without it an embedded PostgreSQL is started.";

#[tokio::main]
async fn main() -> ExitCode {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mode = match take_mode(&mut args) {
        Ok(mode) => mode,
        Err(err) => {
            eprintln!("{err}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => demo(mode).await,
        ["serve"] => serve("127.0.0.1:3000", mode).await,
        ["serve", "--listen", addr] => serve(addr, mode).await,
        ["-h" | "--help"] => {
            println!("{USAGE}");
            Ok(true)
        }
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::FAILURE
        }
    }
}

/// Removes `--mode X` from `args`; shared schema without it.
fn take_mode(args: &mut Vec<String>) -> Result<Mode, String> {
    let Some(at) = args.iter().position(|a| a == "--mode") else {
        return Ok(Mode::default());
    };
    let value = args
        .get(at + 1)
        .ok_or("--mode needs a value: shared or schema")?;
    let mode = value.parse()?;
    args.drain(at..=at + 1);
    Ok(mode)
}

async fn demo(mode: Mode) -> Result<bool, Box<dyn std::error::Error>> {
    println!("Starting PostgreSQL and the POS API ...");
    let db = Database::from_env_or_embedded(mode).await?;
    let server = Server::start(&db, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    println!(
        "Database: {} · API: http://{} · isolation: {}",
        db.description, server.addr, db.mode
    );
    let passed = pos::story::run(&db, &server).await;
    server.stop().await;
    db.shutdown().await;
    passed
}

async fn serve(listen: &str, mode: Mode) -> Result<bool, Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(false).init();
    let listen: SocketAddr = listen
        .parse()
        .map_err(|e| format!("--listen {listen:?}: {e}"))?;
    let db = Database::from_env_or_embedded(mode).await?;
    db.close_admin().await;
    let server = Server::start(&db, listen).await?;
    tracing::info!(addr = %server.addr, database = %db.description, isolation = %db.mode, "serving until Ctrl-C");
    println!(
        "Try:\n  TOKEN=$(curl -s -X POST -H 'content-type: application/json' -d '{{\"tenant\":\"acme\",\"user\":\"alice\"}}' http://{addr}/auth/demo-token | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')\n  curl -H 'X-Tenant: acme' -H \"Authorization: Bearer $TOKEN\" http://{addr}/orders",
        addr = server.addr
    );
    println!(
        "Staff: http://{addr}/admin (sign in with the admin token {token}; set POS_ADMIN_TOKEN to choose it)",
        addr = server.addr,
        token = server.admin_token
    );
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    server.stop().await;
    db.shutdown().await;
    Ok(true)
}

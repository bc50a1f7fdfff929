//! `pos`: the multi-tenant point-of-sale demo.
//!
//! - `cargo run -p pos` plays the scripted demo against a fresh embedded
//!   PostgreSQL (or `DATABASE_URL`) and exits 0 only if every step behaved.
//! - `cargo run -p pos -- serve --listen 127.0.0.1:3000` serves until Ctrl-C.

use std::net::SocketAddr;
use std::process::ExitCode;

use pos::{Database, Server};

const USAGE: &str = "usage: pos                               run the scripted demo
       pos serve [--listen 127.0.0.1:3000]  serve the API until Ctrl-C

DATABASE_URL (optional): an administrator URL; without it an embedded PostgreSQL is started.";

#[tokio::main]
async fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let result = match args
        .iter()
        .map(String::as_str)
        .collect::<Vec<_>>()
        .as_slice()
    {
        [] => demo().await,
        ["serve"] => serve("127.0.0.1:3000").await,
        ["serve", "--listen", addr] => serve(addr).await,
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

async fn demo() -> Result<bool, Box<dyn std::error::Error>> {
    println!("Starting PostgreSQL and the POS API ...");
    let db = Database::from_env_or_embedded().await?;
    let server = Server::start(&db, SocketAddr::from(([127, 0, 0, 1], 0))).await?;
    println!("Database: {} · API: http://{}", db.description, server.addr);
    let passed = pos::story::run(&db, &server).await;
    server.stop().await;
    db.shutdown().await;
    passed
}

async fn serve(listen: &str) -> Result<bool, Box<dyn std::error::Error>> {
    tracing_subscriber::fmt().with_target(false).init();
    let listen: SocketAddr = listen
        .parse()
        .map_err(|e| format!("--listen {listen:?}: {e}"))?;
    let db = Database::from_env_or_embedded().await?;
    let server = Server::start(&db, listen).await?;
    tracing::info!(addr = %server.addr, database = %db.description, "serving until Ctrl-C");
    println!(
        "Try:\n  TOKEN=$(curl -s -X POST -H 'content-type: application/json' -d '{{\"tenant\":\"acme\",\"user\":\"alice\"}}' http://{addr}/auth/demo-token | sed 's/.*\"token\":\"\\([^\"]*\\)\".*/\\1/')\n  curl -H 'X-Tenant: acme' -H \"Authorization: Bearer $TOKEN\" http://{addr}/orders",
        addr = server.addr
    );
    tokio::signal::ctrl_c().await?;
    tracing::info!("shutting down");
    server.stop().await;
    db.shutdown().await;
    Ok(true)
}

//! [`TcpProxy`]: a TCP relay between the code under test and a server,
//! that counts round trips and can cut the line.
//!
//! - **Round trips.** A round trip is counted each time the client sends
//!   after the server last spoke (or first): a pipelined burst of messages
//!   is one, a request and its answer are one. This is what a client pays
//!   for on the network, whatever the protocol. PostgreSQL's start-up and
//!   authentication count too; [`reset`](TcpProxy::reset) after connecting
//!   to measure only what follows.
//! - **A dead server.** [`sever`](TcpProxy::sever) closes every relayed
//!   connection and refuses new ones until [`restore`](TcpProxy::restore):
//!   to the client it looks like a server that went away, without stopping
//!   the real one.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::HarnessError;

/// Shared between the proxy's handle and its tasks.
#[derive(Debug, Default)]
struct Line {
    round_trips: AtomicU64,
    severed: AtomicBool,
}

/// A TCP relay on `127.0.0.1` and a random port to `upstream`. Stops
/// (closing its connections) when dropped.
///
/// ```no_run
/// # async fn run(upstream: std::net::SocketAddr) -> Result<(), tenancy_testing::HarnessError> {
/// let proxy = tenancy_testing::proxy::TcpProxy::start(upstream).await?;
/// // connect the client to proxy.addr(), then:
/// proxy.reset();
/// // ... run one transaction ...
/// println!("{} round trips", proxy.round_trips());
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct TcpProxy {
    addr: SocketAddr,
    line: Arc<Line>,
    cut: watch::Sender<u64>,
    task: JoinHandle<()>,
}

impl TcpProxy {
    /// Starts relaying to `upstream`, on the current tokio runtime.
    pub async fn start(upstream: SocketAddr) -> Result<Self, HarnessError> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(HarnessError::io("TCP proxy: bind a port on 127.0.0.1"))?;
        let addr = listener
            .local_addr()
            .map_err(HarnessError::io("TCP proxy: its address"))?;
        let line = Arc::new(Line::default());
        let (cut, _) = watch::channel(0);
        let task = tokio::spawn(accept(listener, upstream, line.clone(), cut.clone()));
        Ok(Self {
            addr,
            line,
            cut,
            task,
        })
    }

    /// Where the proxy listens: connect the client here.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port the proxy listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Round trips on every relayed connection since the start or the last
    /// [`reset`](Self::reset).
    pub fn round_trips(&self) -> u64 {
        self.line.round_trips.load(Ordering::SeqCst)
    }

    /// Starts counting round trips from zero.
    pub fn reset(&self) {
        self.line.round_trips.store(0, Ordering::SeqCst);
    }

    /// Closes every relayed connection now and refuses new ones (they are
    /// accepted and closed at once) until [`restore`](Self::restore).
    pub fn sever(&self) {
        self.line.severed.store(true, Ordering::SeqCst);
        self.cut.send_modify(|n| *n += 1);
    }

    /// Relays new connections again after [`sever`](Self::sever).
    pub fn restore(&self) {
        self.line.severed.store(false, Ordering::SeqCst);
    }
}

impl Drop for TcpProxy {
    fn drop(&mut self) {
        self.task.abort();
        self.cut.send_modify(|n| *n += 1);
    }
}

async fn accept(
    listener: TcpListener,
    upstream: SocketAddr,
    line: Arc<Line>,
    cut: watch::Sender<u64>,
) {
    while let Ok((client, _)) = listener.accept().await {
        if line.severed.load(Ordering::SeqCst) {
            drop(client);
            continue;
        }
        let (line, cut) = (line.clone(), cut.subscribe());
        tokio::spawn(async move {
            if let Ok(server) = TcpStream::connect(upstream).await {
                relay(client, server, &line, cut).await;
            }
        });
    }
}

/// Which side sent last on one connection.
const NOBODY: u8 = 0;
const CLIENT: u8 = 1;
const SERVER: u8 = 2;

/// Copies both ways until either side closes or the line is cut.
async fn relay(client: TcpStream, server: TcpStream, line: &Line, mut cut: watch::Receiver<u64>) {
    let _ = (client.set_nodelay(true), server.set_nodelay(true));
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let last = std::sync::atomic::AtomicU8::new(NOBODY);
    let up = async {
        let mut buf = vec![0_u8; 64 * 1024];
        loop {
            let n = match client_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            if last.swap(CLIENT, Ordering::SeqCst) != CLIENT {
                line.round_trips.fetch_add(1, Ordering::SeqCst);
            }
            if server_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    let down = async {
        let mut buf = vec![0_u8; 64 * 1024];
        loop {
            let n = match server_read.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            last.store(SERVER, Ordering::SeqCst);
            if client_write.write_all(&buf[..n]).await.is_err() {
                break;
            }
        }
    };
    tokio::select! {
        () = up => {}
        () = down => {}
        _ = cut.changed() => {}
    }
}

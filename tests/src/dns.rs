//! [`DnsServer`]: a real DNS server on `127.0.0.1` for tests that resolve
//! names (custom domain verification), answering from records the test
//! sets and changes while it runs.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::{Arc, Mutex, PoisonError};

use hickory_proto::op::{Message, MessageType, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use tokio::net::UdpSocket;
use tokio::task::JoinHandle;

use crate::HarnessError;

/// A name's answer: its records, or a server failure.
#[derive(Debug, Default)]
struct Entry {
    records: Vec<RData>,
    failing: bool,
}

type Zone = HashMap<String, Entry>;

/// A DNS server over UDP on `127.0.0.1` and a random port, authoritative
/// for every name the test gives records to: unknown names are
/// `NXDOMAIN`, known names without records of the asked type are an empty
/// answer. It speaks the DNS wire format (hickory-proto); point a
/// resolver at [`addr`](Self::addr). Stops when dropped.
#[derive(Debug)]
pub struct DnsServer {
    addr: SocketAddr,
    zone: Arc<Mutex<Zone>>,
    task: JoinHandle<()>,
}

impl DnsServer {
    /// Starts the server on the current tokio runtime.
    pub async fn start() -> Result<Self, HarnessError> {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(HarnessError::io("DNS server: bind a UDP port on 127.0.0.1"))?;
        let addr = socket
            .local_addr()
            .map_err(HarnessError::io("DNS server: its address"))?;
        let zone = Arc::new(Mutex::new(Zone::new()));
        let task = tokio::spawn(serve(socket, zone.clone()));
        Ok(Self { addr, zone, task })
    }

    /// Where the server listens.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Replaces `name`'s TXT records with one record per value (and ends a
    /// [`fail`](Self::fail)).
    pub fn set_txt(&self, name: &str, values: &[&str]) {
        self.replace(
            name,
            RecordType::TXT,
            values
                .iter()
                .map(|v| RData::TXT(TXT::new(vec![(*v).to_owned()]))),
        );
    }

    /// Replaces `name`'s address records with `ip` (and ends a
    /// [`fail`](Self::fail)).
    pub fn set_address(&self, name: &str, ip: IpAddr) {
        let (kind, rdata) = match ip {
            IpAddr::V4(v4) => (RecordType::A, RData::A(A(v4))),
            IpAddr::V6(v6) => (RecordType::AAAA, RData::AAAA(AAAA(v6))),
        };
        self.replace(name, RecordType::A, std::iter::empty());
        self.replace(name, RecordType::AAAA, std::iter::empty());
        self.replace(name, kind, std::iter::once(rdata));
    }

    /// Makes every query for `name` fail (`SERVFAIL`), as a broken
    /// authoritative server does.
    pub fn fail(&self, name: &str) {
        self.lock().entry(key(name)).or_default().failing = true;
    }

    /// Removes every record of `name`: it no longer exists.
    pub fn remove(&self, name: &str) {
        self.lock().remove(&key(name));
    }

    fn replace(&self, name: &str, kind: RecordType, records: impl Iterator<Item = RData>) {
        let mut zone = self.lock();
        let entry = zone.entry(key(name)).or_default();
        entry.failing = false;
        entry.records.retain(|r| r.record_type() != kind);
        entry.records.extend(records);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Zone> {
        self.zone.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Drop for DnsServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A name as the zone keys it: lowercase, without the trailing dot.
fn key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

async fn serve(socket: UdpSocket, zone: Arc<Mutex<Zone>>) {
    let mut buffer = vec![0_u8; 4096];
    loop {
        let Ok((len, peer)) = socket.recv_from(&mut buffer).await else {
            continue;
        };
        let Some(request) = buffer.get(..len).and_then(|b| Message::from_vec(b).ok()) else {
            continue;
        };
        let answer = {
            let zone = zone.lock().unwrap_or_else(PoisonError::into_inner);
            respond(&request, &zone)
        };
        if let Ok(bytes) = answer.to_vec() {
            let _ = socket.send_to(&bytes, peer).await;
        }
    }
}

fn respond(request: &Message, zone: &Zone) -> Message {
    let mut response = Message::response(request.metadata.id, request.metadata.op_code);
    response.metadata.message_type = MessageType::Response;
    response.metadata.authoritative = true;
    response.metadata.recursion_desired = request.metadata.recursion_desired;
    response.metadata.recursion_available = true;
    response.add_queries(request.queries.iter().cloned());
    for query in &request.queries {
        let name: &Name = query.name();
        let Some(entry) = zone.get(&key(&name.to_ascii())) else {
            response.metadata.response_code = ResponseCode::NXDomain;
            continue;
        };
        if entry.failing {
            response.metadata.response_code = ResponseCode::ServFail;
            continue;
        }
        for rdata in entry
            .records
            .iter()
            .filter(|r| r.record_type() == query.query_type())
        {
            response.add_answer(Record::from_rdata(name.clone(), 1, rdata.clone()));
        }
    }
    response
}

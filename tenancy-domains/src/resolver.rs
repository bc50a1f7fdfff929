//! [`DomainResolver`]: the DNS view the checks take, uncached.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use hickory_resolver::config::{NameServerConfig, ResolverConfig};
use hickory_resolver::net::runtime::TokioRuntimeProvider;
use hickory_resolver::net::{DnsError, NetError};
use hickory_resolver::proto::rr::RData;
use hickory_resolver::{Resolver, TokioResolver};

use crate::CheckError;

/// Looks up the proofs of ownership: TXT records, and the addresses the
/// HTTP check connects to. Nothing is cached, so a re-check sees the
/// record as it is now.
#[derive(Debug, Clone)]
pub struct DomainResolver {
    resolver: TokioResolver,
}

impl DomainResolver {
    /// The system's name servers (`/etc/resolv.conf`).
    pub fn system() -> Result<Self, CheckError> {
        let builder =
            TokioResolver::builder_tokio().map_err(|e| CheckError::Resolver(e.to_string()))?;
        Self::build(builder)
    }

    /// One name server, over UDP and TCP: for a resolver of your own, or a
    /// test server on `127.0.0.1`.
    pub fn nameserver(addr: SocketAddr) -> Result<Self, CheckError> {
        let mut server = NameServerConfig::udp_and_tcp(addr.ip());
        for connection in &mut server.connections {
            connection.port = addr.port();
        }
        let config = ResolverConfig::from_name_servers(vec![server]);
        Self::build(Resolver::builder_with_config(
            config,
            TokioRuntimeProvider::default(),
        ))
    }

    fn build(
        mut builder: hickory_resolver::ResolverBuilder<TokioRuntimeProvider>,
    ) -> Result<Self, CheckError> {
        let options = builder.options_mut();
        options.cache_size = 0;
        options.timeout = Duration::from_secs(5);
        options.attempts = 2;
        let resolver = builder
            .build()
            .map_err(|e| CheckError::Resolver(e.to_string()))?;
        Ok(Self { resolver })
    }

    /// The TXT strings at `name` (each record's strings joined, as
    /// RFC 7208 reads them); none if the name has no TXT record.
    pub async fn txt(&self, name: &str) -> Result<Vec<String>, CheckError> {
        let lookup = match self.resolver.txt_lookup(format!("{name}.")).await {
            Ok(lookup) => lookup,
            Err(error) if no_records(&error) => return Ok(Vec::new()),
            Err(error) => return Err(CheckError::Dns(error.to_string())),
        };
        Ok(lookup
            .answers()
            .iter()
            .filter_map(|record| match &record.data {
                RData::TXT(txt) => Some(
                    txt.txt_data
                        .iter()
                        .map(|part| String::from_utf8_lossy(part))
                        .collect::<String>(),
                ),
                _ => None,
            })
            .collect())
    }

    /// The addresses `domain` resolves to (A and AAAA).
    pub async fn addresses(&self, domain: &str) -> Result<Vec<IpAddr>, CheckError> {
        match self.resolver.lookup_ip(format!("{domain}.")).await {
            Ok(found) => Ok(found.iter().collect()),
            Err(error) if no_records(&error) => Ok(Vec::new()),
            Err(error) => Err(CheckError::Dns(error.to_string())),
        }
    }
}

/// Whether the lookup found the name without such records, or no name.
fn no_records(error: &NetError) -> bool {
    matches!(error, NetError::Dns(DnsError::NoRecordsFound(_)))
}

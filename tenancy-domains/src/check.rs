//! [`DomainVerifier`]: proves that a tenant controls a domain, by a DNS TXT
//! record or an HTTP token.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::{DomainName, DomainResolver};

/// How ownership was proven.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Proof {
    /// `_tenancy-challenge.<domain>` holds `tenancy-verification=<token>`.
    DnsTxt,
    /// `http://<domain>/.well-known/tenancy-challenge/<token>` answers 200
    /// with the token as its body.
    HttpToken,
}

/// Why a check could not run (the proof's absence is not an error: see
/// [`Checked`]).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CheckError {
    /// The resolver could not be set up.
    #[error("DNS resolver: {0}")]
    Resolver(String),
    /// The DNS lookup failed (timeout, server failure).
    #[error("DNS lookup failed: {0}")]
    Dns(String),
}

/// What a check found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Checked {
    /// Ownership proven.
    Proven(Proof),
    /// No proof: why, for the tenant (which record or URL to fix).
    NotProven(String),
}

/// Checks a domain's proof of ownership: its DNS TXT record first, then
/// (if enabled) its HTTP token.
///
/// ```no_run
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use tenancy_domains::{Checked, DomainVerifier};
///
/// let verifier = DomainVerifier::system()?.with_http();
/// match verifier.check(&"orders.acme-corp.com".parse()?, "the-token").await? {
///     Checked::Proven(proof) => println!("verified by {proof:?}"),
///     Checked::NotProven(why) => println!("not yet: {why}"),
/// }
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct DomainVerifier {
    resolver: DomainResolver,
    http: Option<HttpCheck>,
}

#[derive(Debug, Clone)]
struct HttpCheck {
    port: u16,
    allow_private: bool,
    client: Arc<reqwest::Client>,
}

/// The most of an HTTP proof's body that is read.
const MAX_BODY: usize = 1024;

impl DomainVerifier {
    /// Checks with the system's name servers, DNS TXT only.
    pub fn system() -> Result<Self, CheckError> {
        Ok(Self::new(DomainResolver::system()?))
    }

    /// Checks with `resolver`, DNS TXT only.
    pub fn new(resolver: DomainResolver) -> Self {
        Self {
            resolver,
            http: None,
        }
    }

    /// Also accepts the HTTP token, fetched over plain HTTP on port 80
    /// (like ACME's `http-01`), without following redirects, from public
    /// addresses only (a domain pointed at `127.0.0.1` or a private network
    /// is not fetched: the check must not reach the operator's own
    /// services).
    #[must_use]
    pub fn with_http(mut self) -> Self {
        let client = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(Duration::from_secs(5))
            .no_proxy()
            .build()
            .map(Arc::new)
            .ok();
        self.http = client.map(|client| HttpCheck {
            port: 80,
            allow_private: false,
            client,
        });
        self
    }

    /// The HTTP check's port (80 by default), for tests.
    #[must_use]
    pub fn http_port(mut self, port: u16) -> Self {
        if let Some(http) = &mut self.http {
            http.port = port;
        }
        self
    }

    /// Lets the HTTP check fetch from loopback and private addresses, for
    /// tests and private deployments.
    #[must_use]
    pub fn allow_private_addresses(mut self) -> Self {
        if let Some(http) = &mut self.http {
            http.allow_private = true;
        }
        self
    }

    /// Whether `domain` proves ownership with `token`.
    pub async fn check(&self, domain: &DomainName, token: &str) -> Result<Checked, CheckError> {
        let expected = format!("tenancy-verification={token}");
        let found = self.resolver.txt(&domain.challenge_name()).await?;
        if found.iter().any(|value| value.trim() == expected) {
            return Ok(Checked::Proven(Proof::DnsTxt));
        }
        let mut why = if found.is_empty() {
            format!("no TXT record at {}", domain.challenge_name())
        } else {
            format!(
                "the TXT record at {} does not hold {expected}",
                domain.challenge_name()
            )
        };
        if let Some(http) = &self.http {
            match http.check(&self.resolver, domain, token).await? {
                Ok(()) => return Ok(Checked::Proven(Proof::HttpToken)),
                Err(http_why) => why = format!("{why}; {http_why}"),
            }
        }
        Ok(Checked::NotProven(why))
    }
}

impl HttpCheck {
    /// `Ok(Ok(()))` when the token is served, `Ok(Err(why))` when not.
    async fn check(
        &self,
        resolver: &DomainResolver,
        domain: &DomainName,
        token: &str,
    ) -> Result<Result<(), String>, CheckError> {
        let url = format!(
            "http://{domain}:{}/.well-known/tenancy-challenge/{token}",
            self.port
        );
        let addresses = resolver.addresses(domain.as_str()).await?;
        let Some(address) = addresses
            .iter()
            .copied()
            .find(|ip| self.allow_private || is_public(*ip))
        else {
            return Ok(Err(if addresses.is_empty() {
                format!("{domain} has no address for {url}")
            } else {
                format!("{domain} resolves only to private addresses; {url} was not fetched")
            }));
        };
        let request = self
            .client
            .get(&url)
            .header(reqwest::header::HOST, domain.as_str())
            .build();
        let response = match request {
            Ok(mut request) => {
                // Connect to the address just checked, not to a second
                // lookup's answer (DNS rebinding).
                let target = format!(
                    "http://{}:{}{}",
                    bracketed(address),
                    self.port,
                    request.url().path()
                );
                match reqwest::Url::parse(&target) {
                    Ok(direct) => *request.url_mut() = direct,
                    Err(e) => return Ok(Err(format!("{url}: {e}"))),
                }
                self.client.execute(request).await
            }
            Err(e) => return Ok(Err(format!("{url}: {e}"))),
        };
        let mut response = match response {
            Ok(response) => response,
            Err(e) => return Ok(Err(format!("{url} could not be fetched: {e}"))),
        };
        if response.status() != reqwest::StatusCode::OK {
            return Ok(Err(format!("{url} answered {}", response.status())));
        }
        let mut body = Vec::new();
        while let Ok(Some(chunk)) = response.chunk().await {
            body.extend_from_slice(&chunk);
            if body.len() > MAX_BODY {
                return Ok(Err(format!("{url} answered more than {MAX_BODY} bytes")));
            }
        }
        if String::from_utf8_lossy(&body).trim() == token {
            Ok(Ok(()))
        } else {
            Ok(Err(format!("{url} does not serve the token")))
        }
    }
}

/// An address for a URL: IPv6 in brackets.
fn bracketed(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

/// Whether `ip` is on the public internet (not loopback, private,
/// link-local, unspecified, shared or documentation space).
fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_documentation()
                || (a == 100 && (64..128).contains(&b))
                || a == 0)
        }
        IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || (first == 0x2001 && v6.segments()[1] == 0x0db8)
                || v6
                    .to_ipv4_mapped()
                    .is_some_and(|v4| !is_public(IpAddr::V4(v4))))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_public_addresses_are_fetched() {
        for private in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "100.127.255.255",
            "255.255.255.255",
            "0.1.2.3",
            "::1",
            "::",
            "fd00::1",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "192.0.2.1",
            "2001:db8::1",
        ] {
            assert!(
                !is_public(private.parse().unwrap_or_else(|_| unreachable!())),
                "{private}"
            );
        }
        for public in [
            "93.184.216.34",
            "1.1.1.1",
            "100.63.0.1",
            "100.128.0.1",
            "104.64.1.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "2001:4860::8888",
        ] {
            assert!(
                is_public(public.parse().unwrap_or_else(|_| unreachable!())),
                "{public}"
            );
        }
    }
}

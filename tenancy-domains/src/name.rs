//! [`DomainName`]: a tenant domain, normalised and checked once.

use std::fmt;
use std::str::FromStr;

/// A domain a tenant may bring: normalised to the form a browser sends in
/// `Host` (IDNA to ASCII, lowercase, no trailing dot) and checked against
/// DNS's rules, so `Café.Example.` and `xn--caf-dma.example` are one
/// domain.
///
/// ```
/// use tenancy_domains::DomainName;
///
/// let name: DomainName = "Orders.Café.Example.".parse()?;
/// assert_eq!(name.as_str(), "orders.xn--caf-dma.example");
/// assert_eq!(name.challenge_name(), "_tenancy-challenge.orders.xn--caf-dma.example");
/// assert!("localhost".parse::<DomainName>().is_err());
/// assert!("shop.localhost".parse::<DomainName>().is_err());
/// assert!("10.0.0.1".parse::<DomainName>().is_err());
/// # Ok::<(), tenancy_domains::InvalidDomain>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DomainName(Box<str>);

/// Why a text is not a domain a tenant can bring.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid domain {input:?}: {reason}")]
pub struct InvalidDomain {
    input: String,
    reason: &'static str,
}

impl InvalidDomain {
    fn new(input: &str, reason: &'static str) -> Self {
        let input = input.chars().take(80).collect();
        Self { input, reason }
    }

    /// What rule the text broke.
    pub fn reason(&self) -> &'static str {
        self.reason
    }
}

/// The longest name DNS carries, without the trailing dot.
const MAX_NAME: usize = 253;
/// The longest label.
const MAX_LABEL: usize = 63;

impl DomainName {
    /// Normalises and checks `input`.
    pub fn parse(input: &str) -> Result<Self, InvalidDomain> {
        let fail = |reason| Err(InvalidDomain::new(input, reason));
        let trimmed = input.strip_suffix('.').unwrap_or(input);
        if trimmed.is_empty() {
            return fail("a domain has at least two labels, such as example.com");
        }
        if trimmed.contains(|c: char| c.is_whitespace() || c == '/' || c == ':' || c == '@') {
            return fail("a domain has no spaces, ports, paths or user names");
        }
        let Ok(ascii) = idna::domain_to_ascii_strict(trimmed) else {
            return fail("not a valid internationalised domain name (IDNA)");
        };
        if ascii.len() > MAX_NAME {
            return fail("a domain is at most 253 characters long");
        }
        if ascii.parse::<std::net::IpAddr>().is_ok()
            || ascii
                .split('.')
                .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
        {
            return fail("an IP address is not a domain");
        }
        let labels: Vec<&str> = ascii.split('.').collect();
        if labels.len() < 2 {
            return fail("a domain has at least two labels, such as example.com");
        }
        for label in &labels {
            if label.is_empty() || label.len() > MAX_LABEL {
                return fail("each label is 1 to 63 characters long");
            }
            if !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
                || label.starts_with('-')
                || label.ends_with('-')
            {
                return fail("labels hold letters, digits and inner hyphens only");
            }
        }
        if matches!(labels.last(), Some(&("localhost" | "local" | "invalid"))) {
            return fail("localhost, .local and .invalid names never resolve publicly");
        }
        Ok(Self(ascii.into()))
    }

    /// The domain, ASCII (punycode), lowercase, without a trailing dot.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The name of the TXT record that proves ownership:
    /// `_tenancy-challenge.<domain>`.
    pub fn challenge_name(&self) -> String {
        format!("_tenancy-challenge.{}", self.0)
    }
}

impl FromStr for DomainName {
    type Err = InvalidDomain;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::parse(s)
    }
}

impl fmt::Display for DomainName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for DomainName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

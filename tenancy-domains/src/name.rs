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
        // ASCII names get DNS's own reasons first; IDNA's verdict is kept
        // for what only it can judge.
        if trimmed.is_ascii() {
            check_labels(&trimmed.to_ascii_lowercase())
                .map_err(|reason| InvalidDomain::new(input, reason))?;
        }
        let Ok(ascii) = idna::domain_to_ascii_strict(trimmed) else {
            return fail("not a valid internationalised domain name (IDNA)");
        };
        check_labels(&ascii).map_err(|reason| InvalidDomain::new(input, reason))?;
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

/// DNS's rules for a tenant domain, on its ASCII form.
fn check_labels(ascii: &str) -> Result<(), &'static str> {
    if ascii.len() > MAX_NAME {
        return Err("a domain is at most 253 characters long");
    }
    if ascii.parse::<std::net::IpAddr>().is_ok()
        || ascii
            .split('.')
            .all(|l| l.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err("an IP address is not a domain");
    }
    let labels: Vec<&str> = ascii.split('.').collect();
    if labels.len() < 2 {
        return Err("a domain has at least two labels, such as example.com");
    }
    for label in &labels {
        if label.is_empty() || label.len() > MAX_LABEL {
            return Err("each label is 1 to 63 characters long");
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-')
            || label.starts_with('-')
            || label.ends_with('-')
        {
            return Err("labels hold letters, digits and inner hyphens only");
        }
    }
    if matches!(labels.last(), Some(&("localhost" | "local" | "invalid"))) {
        return Err("localhost, .local and .invalid names never resolve publicly");
    }
    Ok(())
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reason(input: &str) -> &'static str {
        match DomainName::parse(input) {
            Ok(name) => panic!("{input:?} was accepted as {name}"),
            Err(e) => e.reason(),
        }
    }

    #[test]
    fn one_domain_has_one_spelling() {
        for spelling in [
            "Shop.Café.Example",
            "shop.café.example.",
            "SHOP.xn--caf-dma.EXAMPLE",
        ] {
            assert_eq!(
                DomainName::parse(spelling).map(|d| d.to_string()),
                Ok("shop.xn--caf-dma.example".to_owned()),
                "{spelling}"
            );
            let name = DomainName::parse(spelling).unwrap_or_else(|e| unreachable!("{e}"));
            assert_eq!(name.as_ref(), "shop.xn--caf-dma.example");
        }
    }

    #[test]
    fn each_bad_domain_gets_its_reason() {
        for (input, expected) in [
            ("", "at least two labels"),
            (".", "at least two labels"),
            ("com", "at least two labels"),
            ("a..com", "1 to 63"),
            ("shop.acme.com:443", "no spaces, ports"),
            ("shop acme.com", "no spaces, ports"),
            ("https://acme.com/x", "no spaces, ports"),
            ("user@acme.com", "no spaces, ports"),
            ("192.168.0.1", "an IP address"),
            ("1.2.3", "an IP address"),
            ("-a.com", "inner hyphens"),
            ("a-.com", "inner hyphens"),
            ("a_b.com", "inner hyphens"),
            ("shop.localhost", "never resolve publicly"),
            ("printer.local", "never resolve publicly"),
            ("xn--zz.com", "IDNA"),
        ] {
            assert!(
                reason(input).contains(expected),
                "{input:?}: {}",
                reason(input)
            );
        }
    }

    #[test]
    fn the_dns_length_limits_hold_exactly() {
        let label = |n: usize| "a".repeat(n);
        assert!(DomainName::parse(&format!("{}.com", label(63))).is_ok());
        assert!(reason(&format!("{}.com", label(64))).contains("1 to 63"));
        // 4 × 63 + 3 dots = 255 > 253; 3 × 63 + 61 + 3 dots = 253.
        let at_limit = format!("{}.{}.{}.{}", label(63), label(63), label(63), label(61));
        assert_eq!(at_limit.len(), 253);
        assert!(DomainName::parse(&at_limit).is_ok());
        let over = format!("{}.{}.{}.{}", label(63), label(63), label(63), label(62));
        assert!(reason(&over).contains("253"));
    }
}

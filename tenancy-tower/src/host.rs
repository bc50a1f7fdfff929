//! Reading the request's host: the `Host` header or the URI authority
//! (HTTP/2), normalised for comparison.

use std::borrow::Cow;

use http::request::Parts;

/// A normalised host: lowercase ASCII, no port, no trailing dot. Borrowed
/// from the request unless it had to be lowercased.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Host<'a> {
    /// A DNS name such as `acme.example.com`.
    Name(Cow<'a, str>),
    /// An IPv4 or IPv6 address: never a tenant.
    Ip,
}

/// The longest DNS name.
const MAX_HOST_LEN: usize = 253;

/// The request's host, or `Ok(None)` when it has none.
///
/// Rejects (with a reason) what no well-behaved client sends: two `Host`
/// headers, non-ASCII or non-UTF-8 bytes, user info, a bad port, empty or
/// overlong labels. International names must arrive in their ASCII
/// (punycode, `xn--`) form, as HTTP requires.
pub(crate) fn request_host(parts: &Parts) -> Result<Option<Host<'_>>, String> {
    let mut values = parts.headers.get_all(http::header::HOST).iter();
    let raw = match (values.next(), values.next()) {
        (Some(_), Some(_)) => return Err("more than one Host header".to_owned()),
        (Some(value), None) => value
            .to_str()
            .map_err(|_| "the Host header is not visible ASCII".to_owned())?,
        (None, _) => match parts.uri.authority() {
            Some(authority) => authority.as_str(),
            None => return Ok(None),
        },
    };
    parse_host(raw).map(Some)
}

/// Parses `host[:port]`, `[v6]:port` or `ipv4:port`.
pub(crate) fn parse_host(raw: &str) -> Result<Host<'_>, String> {
    if raw.is_empty() {
        return Err("the host is empty".to_owned());
    }
    if raw.contains('@') {
        return Err("the host contains user info".to_owned());
    }
    if let Some(rest) = raw.strip_prefix('[') {
        let (addr, after) = rest
            .split_once(']')
            .ok_or_else(|| "unclosed '[' in the host".to_owned())?;
        addr.parse::<std::net::Ipv6Addr>()
            .map_err(|_| "invalid IPv6 address in the host".to_owned())?;
        check_port(after.strip_prefix(':'), after)?;
        return Ok(Host::Ip);
    }
    let (name, port) = match raw.rsplit_once(':') {
        Some((name, port)) => (name, Some(port)),
        None => (raw, None),
    };
    check_port(port, port.unwrap_or(""))?;
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.parse::<std::net::Ipv4Addr>().is_ok() {
        return Ok(Host::Ip);
    }
    if name.is_empty() || name.len() > MAX_HOST_LEN {
        return Err("the host name is empty or too long".to_owned());
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return Err("the host has an empty or overlong label".to_owned());
        }
        if !label
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        {
            return Err("the host contains characters a DNS name cannot have".to_owned());
        }
    }
    if name.bytes().any(|b| b.is_ascii_uppercase()) {
        Ok(Host::Name(Cow::Owned(name.to_ascii_lowercase())))
    } else {
        Ok(Host::Name(Cow::Borrowed(name)))
    }
}

fn check_port(port: Option<&str>, rest: &str) -> Result<(), String> {
    match port {
        None if rest.is_empty() => Ok(()),
        None => Err("unexpected characters after the host".to_owned()),
        Some(port)
            if !port.is_empty() && port.len() <= 5 && port.bytes().all(|b| b.is_ascii_digit()) =>
        {
            port.parse::<u16>()
                .map(drop)
                .map_err(|_| "the port is out of range".to_owned())
        }
        Some(_) => Err("the port is not a number".to_owned()),
    }
}

/// Normalises a configured base domain the same way as request hosts.
pub(crate) fn normalise_domain(domain: &str) -> String {
    domain.trim_end_matches('.').to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(raw: &str) -> String {
        match parse_host(raw) {
            Ok(Host::Name(n)) => n.into_owned(),
            other => panic!("{raw}: {other:?}"),
        }
    }

    #[test]
    fn normalises_case_port_and_trailing_dot() {
        assert_eq!(name("ACME.Example.COM"), "acme.example.com");
        assert_eq!(name("acme.example.com:8080"), "acme.example.com");
        assert_eq!(name("acme.example.com."), "acme.example.com");
        assert_eq!(name("acme.example.com.:443"), "acme.example.com");
        assert_eq!(name("acme.localhost:3000"), "acme.localhost");
        assert_eq!(
            name("xn--nicode-2ya.example.com"),
            "xn--nicode-2ya.example.com"
        );
    }

    #[test]
    fn ip_hosts_are_not_names() {
        for ip in [
            "127.0.0.1",
            "127.0.0.1:80",
            "[::1]",
            "[::1]:8080",
            "[2001:db8::1]:443",
        ] {
            assert_eq!(parse_host(ip), Ok(Host::Ip), "{ip}");
        }
    }

    #[test]
    fn hostile_hosts_are_rejected() {
        let long = format!("{}.example.com", "a".repeat(300));
        let label = format!("{}.example.com", "a".repeat(64));
        for bad in [
            "",
            ":80",
            "acme.example.com:",
            "acme.example.com:99999",
            "acme.example.com:8o",
            "user@acme.example.com",
            "acme..example.com",
            ".example.com",
            "ac me.example.com",
            "acme.example.com/path",
            "[::1",
            "[zz::1]",
            "[::1]x",
            "ünicode.example.com",
            long.as_str(),
            label.as_str(),
        ] {
            assert!(parse_host(bad).is_err(), "{bad:?} was accepted");
        }
    }

    /// A name of 253 characters and labels of 63 are what DNS allows; one
    /// more is refused.
    #[test]
    fn the_dns_length_limits_hold_exactly() {
        let label63 = "a".repeat(63);
        let name253 = format!("{label63}.{label63}.{label63}.{}", "b".repeat(61));
        assert_eq!(name253.len(), 253);
        assert_eq!(name(&name253), name253);
        assert_eq!(name(&format!("{name253}.:65535")), name253);
        assert_eq!(name(&format!("{label63}.example.com")).len(), 75);
        let name254 = format!("{name253}b");
        assert_eq!(
            parse_host(&name254),
            Err("the host name is empty or too long".to_owned())
        );
    }

    /// Each kind of bad host gets the reason that names what is wrong: the
    /// reason reaches the client in the 400.
    #[test]
    fn each_bad_host_gets_its_reason() {
        for (bad, reason) in [
            ("", "the host is empty"),
            ("user@acme.example.com", "the host contains user info"),
            ("[::1", "unclosed '[' in the host"),
            ("[zz::1]", "invalid IPv6 address in the host"),
            ("[::1]x", "unexpected characters after the host"),
            ("[::1]:", "the port is not a number"),
            ("acme.example.com:", "the port is not a number"),
            ("acme.example.com:8o", "the port is not a number"),
            ("acme.example.com:123456", "the port is not a number"),
            ("acme.example.com:65536", "the port is out of range"),
            (":80", "the host name is empty or too long"),
            (
                "acme..example.com",
                "the host has an empty or overlong label",
            ),
            (
                "ac me.example.com",
                "the host contains characters a DNS name cannot have",
            ),
        ] {
            assert_eq!(parse_host(bad), Err(reason.to_owned()), "{bad:?}");
        }
        assert_eq!(
            parse_host("acme.example.com:65535"),
            Ok(Host::Name("acme.example.com".into()))
        );
        assert_eq!(
            parse_host("acme.example.com:0"),
            Ok(Host::Name("acme.example.com".into()))
        );
    }

    /// Only an uppercase host is copied; the usual lowercase one is borrowed
    /// from the request.
    #[test]
    fn lowercase_hosts_are_borrowed() {
        assert!(matches!(
            parse_host("acme.example.com"),
            Ok(Host::Name(Cow::Borrowed(_)))
        ));
        assert!(matches!(
            parse_host("Acme.example.com"),
            Ok(Host::Name(Cow::Owned(_)))
        ));
        assert!(
            matches!(parse_host("ACME_1-x.example.com"), Ok(Host::Name(Cow::Owned(n))) if n == "acme_1-x.example.com")
        );
    }
}

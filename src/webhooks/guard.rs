//! Which webhook URLs roster may call (SSRF, OWASP API7): http(s) only, https unless
//! the development setting allows otherwise, and never an address inside a private
//! network, the host itself or a cloud metadata service. The same check runs when an
//! endpoint is saved and on every connection (through the HTTP client's resolver), so
//! a DNS answer that changes after validation cannot redirect a delivery.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, ToSocketAddrs};

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UrlRefused {
    #[error("the URL is not valid: {0}")]
    Malformed(String),
    #[error("webhook URLs must use https (http only with allow_private_webhook_urls)")]
    Scheme,
    #[error("webhook URLs may not carry credentials")]
    Credentials,
    #[error("the URL's host does not resolve")]
    Unresolvable,
    #[error("the URL resolves to {0}, a loopback, private, link-local or metadata address")]
    Private(IpAddr),
}

/// A webhook URL that passed [`check_url`]. Its field is private, so only the guard makes
/// one: the service takes endpoint URLs in this form, and a caller that skipped the
/// check does not compile. (Every connection is checked again as it is made.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedUrl(url::Url);

impl CheckedUrl {
    pub fn as_str(&self) -> &str {
        self.0.as_str()
    }
}

impl std::fmt::Display for CheckedUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Checks a URL as an endpoint target; resolves its host (blocking).
pub fn check_url(raw: &str, allow_private: bool) -> Result<CheckedUrl, UrlRefused> {
    let url = url::Url::parse(raw).map_err(|e| UrlRefused::Malformed(e.to_string()))?;
    match url.scheme() {
        "https" => {}
        "http" if allow_private => {}
        _ => return Err(UrlRefused::Scheme),
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(UrlRefused::Credentials);
    }
    let host = url
        .host_str()
        .ok_or_else(|| UrlRefused::Malformed("no host".into()))?;
    let port = url
        .port_or_known_default()
        .ok_or_else(|| UrlRefused::Malformed("no port".into()))?;
    // `Url` keeps IPv6 literals bracketed, which is also what the resolver expects.
    resolve(&format!("{host}:{port}"), allow_private)?;
    Ok(CheckedUrl(url))
}

/// Resolves `host:port` and refuses the lot if any answer is forbidden: connecting to
/// the first allowed one would let a mixed answer reach an internal address later.
pub fn resolve(netloc: &str, allow_private: bool) -> Result<Vec<SocketAddr>, UrlRefused> {
    let addrs: Vec<SocketAddr> = netloc
        .to_socket_addrs()
        .map_err(|_| UrlRefused::Unresolvable)?
        .collect();
    if addrs.is_empty() {
        return Err(UrlRefused::Unresolvable);
    }
    if !allow_private {
        if let Some(bad) = addrs.iter().find(|a| is_forbidden(a.ip())) {
            return Err(UrlRefused::Private(bad.ip()));
        }
    }
    Ok(addrs)
}

/// Addresses a webhook may never reach.
pub fn is_forbidden(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => forbidden_v4(v4),
        IpAddr::V6(v6) => forbidden_v6(v6),
    }
}

fn forbidden_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    ip.is_unspecified()
        || a == 0 // "this network", 0.0.0.0/8
        || ip.is_loopback()
        || ip.is_private() // 10/8, 172.16/12, 192.168/16
        || ip.is_link_local() // 169.254/16, with the metadata service 169.254.169.254
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64/10
        || (a == 192 && b == 0 && ip.octets()[2] == 0) // IETF protocol assignments
        || (a == 198 && (18..20).contains(&b)) // benchmarking
        || ip.is_multicast()
        || ip.is_broadcast()
        || a >= 240 // reserved
}

fn forbidden_v6(ip: Ipv6Addr) -> bool {
    let segments = ip.segments();
    // IPv4-mapped (::ffff:a.b.c.d) and NAT64 (64:ff9b::a.b.c.d) reach IPv4 addresses.
    if let Some(v4) = ip.to_ipv4_mapped() {
        return forbidden_v4(v4);
    }
    if segments[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        let [.., hi, lo] = segments;
        return forbidden_v4(Ipv4Addr::from((u32::from(hi) << 16) | u32::from(lo)));
    }
    ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (segments[0] & 0xfe00) == 0xfc00 // unique local fc00::/7, incl. fd00:ec2::254
        || (segments[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (segments[0] & 0xffc0) == 0xfec0 // deprecated site-local fec0::/10
        || segments[..6] == [0, 0, 0, 0, 0, 0] // IPv4-compatible ::a.b.c.d
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn internal_and_metadata_addresses_are_forbidden() {
        for bad in [
            "127.0.0.1",
            "127.255.0.9",
            "0.0.0.0",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "224.0.0.1",
            "255.255.255.255",
            "::1",
            "::",
            "fd00:ec2::254",
            "fc00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "64:ff9b::a00:1",
            "ff02::1",
        ] {
            assert!(is_forbidden(ip(bad)), "{bad}");
        }
        for good in [
            "93.184.216.34",
            "8.8.8.8",
            "172.32.0.1",
            "100.128.0.1",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ] {
            assert!(!is_forbidden(ip(good)), "{good}");
        }
    }

    #[test]
    fn webhook_urls_need_https_no_credentials_and_a_public_address() {
        assert_eq!(
            check_url("http://8.8.8.8/x", false),
            Err(UrlRefused::Scheme)
        );
        assert_eq!(check_url("ftp://8.8.8.8/x", true), Err(UrlRefused::Scheme));
        assert_eq!(
            check_url("file:///etc/passwd", true),
            Err(UrlRefused::Scheme)
        );
        assert_eq!(
            check_url("https://u:p@8.8.8.8/x", false),
            Err(UrlRefused::Credentials)
        );
        assert!(matches!(
            check_url("https://127.0.0.1/x", false),
            Err(UrlRefused::Private(_))
        ));
        // Other spellings of loopback normalize to it before the check.
        for sneaky in [
            "https://2130706433/",
            "https://0177.0.0.1/",
            "https://[::ffff:127.0.0.1]/",
        ] {
            assert!(
                matches!(check_url(sneaky, false), Err(UrlRefused::Private(_))),
                "{sneaky}"
            );
        }
        // Refused as loopback, or as unresolvable where the resolver knows no such name.
        assert!(check_url("https://localhost./", false).is_err());
        assert!(check_url("https://8.8.8.8/hook", false).is_ok());
        // What is stored is the URL as parsed, in its normal form.
        let checked = check_url("HTTPS://8.8.8.8", false).unwrap();
        assert_eq!(checked.to_string(), "https://8.8.8.8/");
        assert!(check_url("http://127.0.0.1:9/hook", true).is_ok());
    }
}

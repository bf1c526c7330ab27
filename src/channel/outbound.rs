//! Where webhook and Zalo requests may go (docs/reliability.md#r13): not to this machine,
//! the local network or any other address that is not on the public internet, unless the
//! deployment allows that network (`LOA_ALLOW_NETWORKS`, `loa run --allow-networks`).
//!
//! The check is made on the address a request actually connects to, after DNS resolution,
//! so a public name that resolves to `127.0.0.1` is refused like the literal, and a URL
//! written `http://2130706433/` or `http://0177.0.0.1/` (which the URL parser reads as
//! `127.0.0.1`) as well:
//!
//! - names go through [`Resolver`], the HTTP client's DNS resolver, which drops refused
//!   addresses and fails when none is left;
//! - IP literals never reach a resolver (hyper-util's `HttpConnector` connects to them
//!   directly), so [`check_url`] checks them before the request is sent.
//!
//! Redirects are never followed (`webhook::client`), so no answer can send a request
//! elsewhere. SMTP relays are not covered: a relay on 127.0.0.1 is the usual set-up
//! (docs/outbound-policy.md).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::str::FromStr;
use std::sync::Arc;

use ipnet::IpNet;

/// Networks a deployment allows requests to although they are not public.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AllowList(Vec<IpNet>);

impl AllowList {
    /// Allows nothing but public addresses.
    pub fn none() -> AllowList {
        AllowList::default()
    }

    /// Whether `ip` is in an allowed network. An IPv4 address written as IPv6
    /// (`::ffff:127.0.0.1`) is allowed by its IPv4 network too.
    pub fn allows(&self, ip: IpAddr) -> bool {
        let v4 = embedded_v4(ip).map(IpAddr::V4);
        self.0
            .iter()
            .any(|net| net.contains(&ip) || v4.is_some_and(|v4| net.contains(&v4)))
    }

    /// Checks the address a request would connect to.
    pub fn check(&self, ip: IpAddr) -> Result<(), &'static str> {
        match special(ip) {
            Some(kind) if !self.allows(ip) => Err(kind),
            _ => Ok(()),
        }
    }
}

impl FromStr for AllowList {
    type Err = String;

    /// A comma-separated list of CIDRs (`127.0.0.0/8, fd00::/8`); a bare address stands
    /// for itself alone.
    fn from_str(s: &str) -> Result<AllowList, String> {
        let mut nets = Vec::new();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let net = match item.parse::<IpNet>() {
                Ok(net) => net,
                Err(_) => item.parse::<IpAddr>().map(IpNet::from).map_err(|_| {
                    format!("{item:?} is not a network: write it as a CIDR, e.g. 127.0.0.0/8 or fd00::/8")
                })?,
            };
            nets.push(net.trunc());
        }
        Ok(AllowList(nets))
    }
}

impl fmt::Display for AllowList {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let nets: Vec<String> = self.0.iter().map(IpNet::to_string).collect();
        f.write_str(&nets.join(","))
    }
}

/// What kind of non-public address `ip` is, or `None` for a public one.
pub(crate) fn special(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => special_v4(v4),
        IpAddr::V6(v6) => match embedded_v4(ip) {
            Some(v4) => special_v4(v4),
            None => special_v6(v6),
        },
    }
}

fn special_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    Some(match () {
        _ if a == 0 => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_private() => "private",
        _ if ip.is_link_local() => "link-local",
        _ if a == 100 && (64..128).contains(&b) => "shared (CGNAT)",
        _ if ip.is_multicast() => "multicast",
        _ if ip.is_broadcast() || a >= 240 => "reserved",
        _ => return None,
    })
}

fn special_v6(ip: Ipv6Addr) -> Option<&'static str> {
    let first = ip.segments()[0];
    Some(match () {
        _ if ip.is_unspecified() => "unspecified",
        _ if ip.is_loopback() => "loopback",
        _ if ip.is_multicast() => "multicast",
        _ if first & 0xfe00 == 0xfc00 => "unique-local",
        _ if first & 0xffc0 == 0xfe80 => "link-local",
        _ if first & 0xffc0 == 0xfec0 => "site-local",
        _ => return None,
    })
}

/// The IPv4 address inside an IPv6 one that carries it: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`) or NAT64 (`64:ff9b::a.b.c.d`).
fn embedded_v4(ip: IpAddr) -> Option<Ipv4Addr> {
    let IpAddr::V6(v6) = ip else {
        return None;
    };
    let s = v6.segments();
    let tail = Ipv4Addr::new((s[6] >> 8) as u8, s[6] as u8, (s[7] >> 8) as u8, s[7] as u8);
    let mapped = s[..5] == [0; 5] && s[5] == 0xffff;
    // `::` and `::1` are IPv6's own unspecified and loopback addresses.
    let compatible = s[..6] == [0; 6] && !(s[6] == 0 && s[7] <= 1);
    let nat64 = s[..6] == [0x64, 0xff9b, 0, 0, 0, 0];
    (mapped || compatible || nat64).then_some(tail)
}

/// A request that was not sent because of where it would go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Refused {
    pub host: String,
    pub ip: IpAddr,
    pub kind: &'static str,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let net = match self.ip {
            IpAddr::V4(_) => format!("{}/32", self.ip),
            IpAddr::V6(_) => format!("{}/128", self.ip),
        };
        let host = if self.host == self.ip.to_string() {
            format!("{} is", self.host)
        } else {
            format!("{} resolves to {}, which is", self.host, self.ip)
        };
        write!(
            f,
            "refused: {host} a {} address; webhook and Zalo requests go only to public \
             addresses unless LOA_ALLOW_NETWORKS (loa run --allow-networks) allows the \
             network, e.g. {net}",
            self.kind
        )
    }
}

impl std::error::Error for Refused {}

/// Checks a URL whose host is an IP literal (any spelling the URL parser accepts); names
/// are left to [`Resolver`]. An unparsable URL is left to the HTTP client to refuse.
pub(crate) fn check_url(url: &str, allow: &AllowList) -> Result<(), Refused> {
    let Ok(url) = url::Url::parse(url) else {
        return Ok(());
    };
    let ip = match url.host() {
        Some(url::Host::Ipv4(ip)) => IpAddr::V4(ip),
        Some(url::Host::Ipv6(ip)) => IpAddr::V6(ip),
        _ => return Ok(()),
    };
    allow.check(ip).map_err(|kind| Refused {
        host: ip.to_string(),
        ip,
        kind,
    })
}

/// The HTTP client's DNS resolver: the system's, minus refused addresses.
#[derive(Debug, Clone)]
pub(crate) struct Resolver {
    allow: Arc<AllowList>,
}

impl Resolver {
    pub(crate) fn new(allow: Arc<AllowList>) -> Resolver {
        Resolver { allow }
    }
}

impl reqwest::dns::Resolve for Resolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow = Arc::clone(&self.allow);
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let mut refused = None;
            let kept: Vec<SocketAddr> = found
                .into_iter()
                .filter(|a| match allow.check(a.ip()) {
                    Ok(()) => true,
                    Err(kind) => {
                        refused.get_or_insert(Refused {
                            host: host.clone(),
                            ip: a.ip(),
                            kind,
                        });
                        false
                    }
                })
                .collect();
            match refused {
                Some(refused) if kept.is_empty() => Err(refused.into()),
                _ => Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs),
            }
        })
    }
}

/// The refusal somewhere in `e`'s chain of causes, if that is why a request failed.
pub(crate) fn refusal_in<'e>(e: &'e (dyn std::error::Error + 'static)) -> Option<&'e Refused> {
    let mut cause = Some(e);
    while let Some(c) = cause {
        if let Some(r) = c.downcast_ref::<Refused>() {
            return Some(r);
        }
        cause = c.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    /// Every form R13 (docs/reliability.md#r13) lists, and the URL spellings of 127.0.0.1 the
    /// URL parser accepts.
    const REFUSED: [(&str, &str); 22] = [
        ("http://127.0.0.1:8080/", "loopback"),
        ("http://127.255.255.254/", "loopback"),
        ("http://2130706433/", "loopback"),
        ("http://0177.0.0.1/", "loopback"),
        ("http://0x7f.0.0.1/", "loopback"),
        ("http://127.1/", "loopback"),
        ("http://0.0.0.0/", "unspecified"),
        ("http://10.1.2.3/", "private"),
        ("http://172.16.0.1/", "private"),
        ("http://172.31.255.255/", "private"),
        ("http://192.168.1.1/", "private"),
        ("http://169.254.169.254/latest/meta-data", "link-local"),
        ("http://100.64.0.1/", "shared (CGNAT)"),
        ("http://224.0.0.1/", "multicast"),
        ("http://[::1]/", "loopback"),
        ("http://[::]/", "unspecified"),
        ("http://[fc00::1]/", "unique-local"),
        ("http://[fd12:3456::1]/", "unique-local"),
        ("http://[fe80::1]/", "link-local"),
        ("http://[ff02::1]/", "multicast"),
        ("http://[::ffff:127.0.0.1]/", "loopback"),
        ("http://[::ffff:169.254.169.254]/", "link-local"),
    ];

    #[test]
    fn every_listed_non_public_form_is_refused_by_default() {
        let none = AllowList::none();
        for (url, kind) in REFUSED {
            let refused = check_url(url, &none).expect_err(url);
            assert_eq!(refused.kind, kind, "{url}");
        }
        assert_eq!(special(ip("::ffff:10.0.0.1")), Some("private"));
        assert_eq!(special(ip("64:ff9b::7f00:1")), Some("loopback"));
        assert_eq!(special(ip("::7f00:1")), Some("loopback"));
        assert_eq!(special(ip("255.255.255.255")), Some("reserved"));
    }

    #[test]
    fn public_addresses_and_names_pass() {
        let none = AllowList::none();
        for url in [
            "https://93.184.215.14/",
            "https://[2606:4700::6810:84e5]/",
            "http://100.63.255.255/",
            "http://100.128.0.1/",
            "http://172.32.0.1/",
            "https://[::ffff:93.184.215.14]/",
            "https://sms.example.vn/send",
            "not a url",
        ] {
            assert_eq!(check_url(url, &none), Ok(()), "{url}");
        }
    }

    #[test]
    fn an_allowed_network_lets_its_addresses_through_and_no_others() {
        let allow: AllowList = "127.0.0.0/8, fd00::/8,10.9.8.7".parse().unwrap();
        for url in [
            "http://127.0.0.1:9/",
            "http://2130706433/",
            "http://[::ffff:127.0.0.1]/",
            "http://[fd00::5]/",
            "http://10.9.8.7/",
        ] {
            assert_eq!(check_url(url, &allow), Ok(()), "{url}");
        }
        for url in ["http://10.9.8.8/", "http://[::1]/", "http://[fc00::1]/"] {
            assert!(check_url(url, &allow).is_err(), "{url}");
        }
        assert_eq!(allow.to_string(), "127.0.0.0/8,fd00::/8,10.9.8.7/32");
        assert_eq!("".parse::<AllowList>(), Ok(AllowList::none()));
        let bad = "127.0.0.0/33".parse::<AllowList>().unwrap_err();
        assert!(
            bad.contains("127.0.0.0/33") && bad.contains("CIDR"),
            "{bad}"
        );
    }

    #[test]
    fn the_refusal_says_what_and_how_to_allow_it() {
        let r = check_url("http://0177.0.0.1:8/x", &AllowList::none()).unwrap_err();
        assert_eq!(
            r.to_string(),
            "refused: 127.0.0.1 is a loopback address; webhook and Zalo requests go only to \
             public addresses unless LOA_ALLOW_NETWORKS (loa run --allow-networks) allows \
             the network, e.g. 127.0.0.1/32"
        );
    }

    #[tokio::test]
    async fn the_resolver_drops_refused_addresses_and_fails_when_none_is_left() {
        use reqwest::dns::Resolve as _;
        let strict = Resolver::new(Arc::new(AllowList::none()));
        let err = match strict.resolve("localhost".parse().unwrap()).await {
            Ok(_) => panic!("localhost resolved"),
            Err(e) => e,
        };
        let refused = refusal_in(err.as_ref()).expect("a refusal");
        assert_eq!(
            (refused.host.as_str(), refused.kind),
            ("localhost", "loopback")
        );
        let open = Resolver::new(Arc::new("127.0.0.0/8,::1/128".parse().unwrap()));
        let addrs: Vec<SocketAddr> = match open.resolve("localhost".parse().unwrap()).await {
            Ok(addrs) => addrs.collect(),
            Err(e) => panic!("{e}"),
        };
        assert!(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()));
    }
}

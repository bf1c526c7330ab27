//! The SMTP channel's URL (from the environment, docs/campaign-file.md#smtp), parsed once when
//! the channel is built and by `loa validate` through [`check_url`]:
//! `smtp://[user:password@]host[:port][?options]` (plain; port 25), `smtps://…` (implicit
//! TLS, RFC 8314; port 465). Options: `tls=required` or `tls=starttls` (STARTTLS must
//! succeed; port 587), `tls=opportunistic` (STARTTLS when offered), `pool=N` (open
//! connections = messages in flight, default 4), `helo=NAME` (EHLO name; default the From
//! domain). A user and password mean AUTH (PLAIN or LOGIN) and are refused over an
//! unencrypted connection to a non-loopback host. No error quotes the URL: it may hold a
//! password.

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context as _, bail};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

/// Default number of open connections (and messages in flight) per channel.
pub(crate) const DEFAULT_POOL: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Security {
    Plain,
    StartTls { required: bool },
    Implicit,
}

/// The parsed URL; `Debug` is not derived because it holds the password.
pub(super) struct Config {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) security: Security,
    pub(super) credentials: Option<Credentials>,
    pub(super) hello: ClientId,
    pub(super) timeout: Duration,
    pub(super) pool: usize,
    /// Set for implicit TLS (`smtps`), which this channel wraps itself.
    pub(super) tls: Option<TlsConnector>,
}

pub(super) fn parse_url(url: &str, from_domain: &str, timeout: Duration) -> anyhow::Result<Config> {
    // Never echo the URL: it may hold a password.
    let u = url::Url::parse(url.trim()).map_err(|e| anyhow::anyhow!("bad SMTP URL: {e}"))?;
    let scheme = match u.scheme() {
        "smtp" => Security::Plain,
        "smtps" => Security::Implicit,
        s => bail!("SMTP URL scheme must be smtp or smtps, not {s:?}"),
    };
    let host = u
        .host_str()
        .filter(|h| !h.is_empty())
        .context("SMTP URL has no host")?
        .trim_matches(['[', ']'])
        .to_string();
    let Options {
        security,
        pool,
        hello,
    } = options(&u, scheme, from_domain)?;
    let port = u.port().unwrap_or(match security {
        Security::Plain => 25,
        Security::StartTls { .. } => 587,
        Security::Implicit => 465,
    });
    let credentials = credentials(&u, &host, security)?;
    let tls = (security == Security::Implicit).then(tls_connector);
    Ok(Config {
        host,
        port,
        security,
        credentials,
        hello,
        timeout,
        pool,
        tls,
    })
}

/// What the query string sets.
struct Options {
    security: Security,
    pool: usize,
    hello: ClientId,
}

/// The options of `u`'s query string over the `scheme`'s security and the defaults.
fn options(u: &url::Url, scheme: Security, from_domain: &str) -> anyhow::Result<Options> {
    let mut security = scheme;
    let mut pool = DEFAULT_POOL;
    let mut hello = ClientId::Domain(from_domain.to_string());
    for (k, v) in u.query_pairs() {
        match (k.as_ref(), v.as_ref()) {
            ("tls", "required" | "starttls") if security == Security::Plain => {
                security = Security::StartTls { required: true }
            }
            ("tls", "opportunistic") if security == Security::Plain => {
                security = Security::StartTls { required: false }
            }
            ("tls", "none") if security == Security::Plain => {}
            ("tls", "wrapper" | "implicit") => security = Security::Implicit,
            ("tls", other) => {
                bail!("SMTP URL: unknown tls={other:?} (required, starttls, opportunistic, none)")
            }
            ("pool", n) => {
                pool = n
                    .parse()
                    .ok()
                    .filter(|n| (1..=256).contains(n))
                    .context("SMTP URL: pool must be a number from 1 to 256")?
            }
            ("helo", name) => hello = ClientId::Domain(name.to_string()),
            (other, _) => bail!("SMTP URL: unknown option {other:?} (tls, pool, helo)"),
        }
    }
    Ok(Options {
        security,
        pool,
        hello,
    })
}

/// The URL's user and password, if any; refused where they would cross the network
/// unencrypted (anything but a loopback host without TLS that must succeed).
fn credentials(
    u: &url::Url,
    host: &str,
    security: Security,
) -> anyhow::Result<Option<Credentials>> {
    if u.username().is_empty() {
        return Ok(None);
    }
    let user = percent_decode(u.username());
    let password = percent_decode(u.password().unwrap_or(""));
    let loopback = host == "localhost"
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    if matches!(
        security,
        Security::Plain | Security::StartTls { required: false }
    ) && !loopback
    {
        bail!(
            "SMTP credentials would cross the network unencrypted: use smtps:// or ?tls=required"
        );
    }
    Ok(Some(Credentials::new(user, password)))
}

/// Whether `url` is an SMTP URL this channel can use (`loa validate` checks it with the
/// parser the channel uses). The error never quotes the URL, which may hold a password.
pub(crate) fn check_url(url: &str) -> Result<(), String> {
    parse_url(url, "localhost", Duration::from_secs(15))
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
}

pub(super) fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Implicit TLS with the Mozilla roots (webpki-roots), ring as the crypto provider.
fn tls_connector() -> TlsConnector {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let config = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default TLS versions")
    .with_root_certificates(roots)
    .with_no_client_auth();
    TlsConnector::from(Arc::new(config))
}

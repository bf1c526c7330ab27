//! An smtp channel's relay URL (from the environment, docs/campaign-file.md#smtp), parsed
//! without I/O; `channel::smtp` adds the timeout and the TLS setup on top:
//! `smtp://[user:password@]host[:port][?options]` (plain; port 25), `smtps://…` (implicit
//! TLS, RFC 8314; port 465). Options: `tls=required` or `tls=starttls` (STARTTLS must
//! succeed; port 587), `tls=opportunistic` (STARTTLS when offered), `helo=NAME` (EHLO
//! name; default the From domain). The number of connections is the channel's
//! `concurrency:`, not an option of the URL. A user and password mean AUTH (PLAIN or
//! LOGIN) and are refused over an unencrypted connection to a non-loopback host. No error quotes the URL: it may hold a
//! password.

use anyhow::{Context as _, bail};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Security {
    Plain,
    StartTls { required: bool },
    Implicit,
}

/// The parsed URL; `Debug` is not derived because it holds the password.
pub(crate) struct SmtpUrl {
    pub host: String,
    pub port: u16,
    pub security: Security,
    pub credentials: Option<Credentials>,
    pub hello: ClientId,
}

impl SmtpUrl {
    /// Parses `url`; `from_domain` is the EHLO name unless the URL sets `helo`.
    pub(crate) fn parse(url: &str, from_domain: &str) -> anyhow::Result<Self> {
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
        let Options { security, hello } = options(&u, scheme, from_domain)?;
        let port = u.port().unwrap_or(match security {
            Security::Plain => 25,
            Security::StartTls { .. } => 587,
            Security::Implicit => 465,
        });
        let credentials = credentials(&u, &host, security)?;
        Ok(Self {
            host,
            port,
            security,
            credentials,
            hello,
        })
    }

    /// Whether `url` is an SMTP URL the channel can use, for `loa validate`. The error
    /// never quotes the URL, which may hold a password.
    pub(crate) fn check(url: &str) -> Result<(), String> {
        Self::parse(url, "localhost")
            .map(|_| ())
            .map_err(|e| format!("{e:#}"))
    }
}

/// What the query string sets.
struct Options {
    security: Security,
    hello: ClientId,
}

/// The options of `u`'s query string over the `scheme`'s security and the defaults.
fn options(u: &url::Url, scheme: Security, from_domain: &str) -> anyhow::Result<Options> {
    let mut security = scheme;
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
            ("pool", _) => {
                bail!("SMTP URL: pool= is no longer an option; give the channel `concurrency:`")
            }
            ("helo", name) => hello = ClientId::Domain(name.to_string()),
            (other, _) => bail!("SMTP URL: unknown option {other:?} (tls, helo)"),
        }
    }
    Ok(Options { security, hello })
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

fn percent_decode(s: &str) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_give_security_port_and_credentials() {
        let c = SmtpUrl::parse("smtp://mail.example.vn", "example.vn").unwrap();
        assert_eq!((c.security, c.port), (Security::Plain, 25));
        let c = SmtpUrl::parse("smtp://u:p%40ss@mail.example.vn?tls=required", "x").unwrap();
        assert_eq!(c.security, Security::StartTls { required: true });
        assert_eq!(c.port, 587);
        assert!(c.credentials.is_some());
        let c = SmtpUrl::parse("smtps://mail.example.vn", "x").unwrap();
        assert_eq!((c.security, c.port), (Security::Implicit, 465));
        assert_eq!(percent_decode("p%40ss%2"), "p@ss%2");
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_the_password() {
        for url in [
            "http://u:hunter2@mail.example.vn",
            "smtp://u:hunter2@mail.example.vn",
            "smtp://u:hunter2@mail.example.vn?tls=maybe",
            "smtp://u:hunter2@mail.example.vn?pool=8",
            "smtp://u:hunter2@mail.example.vn?colour=red",
        ] {
            let e = SmtpUrl::parse(url, "x").err().unwrap().to_string();
            assert!(!e.contains("hunter2"), "{e}");
            let e = SmtpUrl::check(url).unwrap_err();
            assert!(!e.contains("hunter2"), "{e}");
        }
        // Credentials in the clear are fine on loopback (a local relay).
        assert!(SmtpUrl::parse("smtp://u:p@127.0.0.1:2525", "x").is_ok());
    }
}

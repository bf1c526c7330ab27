//! The SMTP channel's connection settings: the relay URL as [`crate::mail::smtp_url`] parses
//! it (the parser `loa validate` checks the URL with), plus what only sending needs — the
//! timeout and, for implicit TLS (`smtps`), the TLS connector this channel wraps its
//! sockets in. No error quotes the URL: it may hold a password.

use std::sync::Arc;
use std::time::Duration;

use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::extension::ClientId;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls;

pub(super) use crate::mail::Security;
use crate::mail::SmtpUrl;

/// The parsed URL and the TLS setup; `Debug` is not derived because it holds the password.
pub(super) struct Config {
    pub(super) host: String,
    pub(super) port: u16,
    pub(super) security: Security,
    pub(super) credentials: Option<Credentials>,
    pub(super) hello: ClientId,
    pub(super) timeout: Duration,
    /// Set for implicit TLS (`smtps`), which this channel wraps itself.
    pub(super) tls: Option<TlsConnector>,
}

/// `url` parsed as `loa validate` parses it, with `from_domain` as the default EHLO name.
pub(super) fn parse_url(url: &str, from_domain: &str, timeout: Duration) -> anyhow::Result<Config> {
    let SmtpUrl {
        host,
        port,
        security,
        credentials,
        hello,
    } = SmtpUrl::parse(url, from_domain)?;
    let tls = (security == Security::Implicit).then(tls_connector);
    Ok(Config {
        host,
        port,
        security,
        credentials,
        hello,
        timeout,
        tls,
    })
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

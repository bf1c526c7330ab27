//! The SMTP channel: a small pool of open connections to one relay.
//!
//! URL (from the environment, docs/campaign-file.md#smtp):
//! `smtp://[user:password@]host[:port][?options]` (plain; port 25), `smtps://…` (implicit TLS,
//! RFC 8314; port 465). Options: `tls=required` or `tls=starttls` (STARTTLS must succeed; port
//! 587), `tls=opportunistic` (STARTTLS when offered), `pool=N` (open connections = messages in
//! flight, default 4), `helo=NAME` (EHLO name; default the From domain). A user and password
//! mean AUTH (PLAIN or LOGIN) and are refused over an unencrypted connection to a non-loopback
//! host.
//!
//! lettre 0.11.23 never sets `TCP_NODELAY` and writes the body and the final `.` in two
//! writes, which costs a Nagle/delayed-ACK stall of ~40 ms per message (BENCHMARKS.md,
//! lettre PR #1159). So we open the `TcpStream` ourselves with `set_nodelay(true)`, wrap it
//! in TLS ourselves for `smtps`, and hand it to `AsyncSmtpConnection::connect_with_transport`;
//! lettre still speaks the protocol (EHLO, STARTTLS, AUTH, dot-stuffing, reply parsing).
//!
//! The transaction (MAIL, RCPT, DATA) is driven here rather than by
//! `AsyncSmtpConnection::send`, which QUITs the connection on any negative reply: a 550 for
//! one recipient should not cost a reconnect. After a failed transaction the connection is
//! reset with RSET and reused; after 421, a broken connection or a timeout it is dropped and
//! the next message opens a new one. A reused connection that turns out to be closed at
//! MAIL (idle timeout on the server) is replaced once, transparently.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use anyhow::{Context as _, bail};
use futures::future::BoxFuture;
use lettre::address::Envelope;
use lettre::message::dkim::{DkimCanonicalization, DkimCanonicalizationType, DkimConfig};
use lettre::message::header::HeaderName;
use lettre::transport::smtp::authentication::{Credentials, Mechanism};
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt, Rset};
use lettre::transport::smtp::extension::{ClientId, Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Semaphore;
use tokio::time::timeout;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::{self, pki_types::ServerName};

use super::classify::{self, SmtpFailure};
use super::email::{self, Sender};
use super::{Channel, ChannelError, Outgoing, Receipt};
use crate::campaign;

/// Default number of open connections (and messages in flight) per channel.
pub const DEFAULT_POOL: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Security {
    Plain,
    StartTls { required: bool },
    Implicit,
}

/// The parsed URL; `Debug` is not derived because it holds the password.
struct Config {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<Credentials>,
    hello: ClientId,
    timeout: Duration,
    pool: usize,
    tls: Option<TlsConnector>,
}

fn parse_url(url: &str, from_domain: &str, timeout: Duration) -> anyhow::Result<Config> {
    // Never echo the URL: it may hold a password.
    let u = url::Url::parse(url.trim()).map_err(|e| anyhow::anyhow!("bad SMTP URL: {e}"))?;
    let mut security = match u.scheme() {
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
    let port = u.port().unwrap_or(match security {
        Security::Plain => 25,
        Security::StartTls { .. } => 587,
        Security::Implicit => 465,
    });
    let credentials = if u.username().is_empty() {
        None
    } else {
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
        Some(Credentials::new(user, password))
    };
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

/// Whether `url` is an SMTP URL this channel can use (`loa validate` checks it with the
/// parser the channel uses). The error never quotes the URL, which may hold a password.
pub fn check_url(url: &str) -> Result<(), String> {
    parse_url(url, "localhost", Duration::from_secs(15))
        .map(|_| ())
        .map_err(|e| format!("{e:#}"))
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

/// A TLS stream over our own NODELAY socket, in the shape lettre accepts.
#[derive(Debug)]
struct TlsTcp(tokio_rustls::client::TlsStream<TcpStream>);

impl AsyncRead for TlsTcp {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_read(cx, buf)
    }
}

impl AsyncWrite for TlsTcp {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().0).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().0).poll_shutdown(cx)
    }
}

impl AsyncTokioStream for TlsTcp {
    fn peer_addr(&self) -> io::Result<SocketAddr> {
        self.0.get_ref().0.peer_addr()
    }
}

/// Opens one SMTP session: TCP (NODELAY), TLS, greeting, EHLO, STARTTLS, AUTH.
async fn open(cfg: &Config) -> Result<AsyncSmtpConnection, SmtpFailure> {
    timeout(cfg.timeout, open_session(cfg))
        .await
        .unwrap_or(Err(SmtpFailure::Timeout))
}

async fn open_session(cfg: &Config) -> Result<AsyncSmtpConnection, SmtpFailure> {
    let lettre_err = |e: lettre::transport::smtp::Error| SmtpFailure::from_lettre(&e);
    let tcp = TcpStream::connect((cfg.host.as_str(), cfg.port))
        .await
        .map_err(|e| SmtpFailure::Connect(format!("{}:{}: {e}", cfg.host, cfg.port)))?;
    tcp.set_nodelay(true)
        .map_err(|e| SmtpFailure::Network(e.to_string()))?;
    let stream: Box<dyn AsyncTokioStream> = match &cfg.tls {
        Some(tls) => {
            let name = ServerName::try_from(cfg.host.clone())
                .map_err(|e| SmtpFailure::Client(format!("bad TLS server name: {e}")))?;
            let tls = tls
                .connect(name, tcp)
                .await
                .map_err(|e| SmtpFailure::Tls(e.to_string()))?;
            Box::new(TlsTcp(tls))
        }
        None => Box::new(tcp),
    };
    let mut conn = AsyncSmtpConnection::connect_with_transport(stream, &cfg.hello)
        .await
        .map_err(lettre_err)?;
    if let Security::StartTls { required } = cfg.security {
        if conn.can_starttls() {
            let params = TlsParameters::new(cfg.host.clone()).map_err(lettre_err)?;
            conn.starttls(params, &cfg.hello).await.map_err(
                |e| match SmtpFailure::from_lettre(&e) {
                    // lettre reports a failed handshake as a connection error.
                    SmtpFailure::Network(m) => SmtpFailure::Tls(m),
                    other => other,
                },
            )?;
        } else if required {
            return Err(SmtpFailure::Client(
                "the server does not offer STARTTLS and tls=required".into(),
            ));
        }
    }
    if let Some(credentials) = &cfg.credentials {
        conn.auth(&[Mechanism::Plain, Mechanism::Login], credentials)
            .await
            .map_err(lettre_err)?;
    }
    Ok(conn)
}

/// Where a transaction failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stage {
    Mail,
    Rcpt,
    Data,
    Content,
}

/// One MAIL/RCPT/DATA transaction on an open session.
async fn transaction(
    conn: &mut AsyncSmtpConnection,
    envelope: &Envelope,
    body: &[u8],
) -> Result<Response, (Stage, SmtpFailure)> {
    let lettre_err =
        |stage| move |e: lettre::transport::smtp::Error| (stage, SmtpFailure::from_lettre(&e));
    let info = conn.server_info();
    let mut params = Vec::new();
    let ascii_addresses = envelope
        .from()
        .is_none_or(|a| AsRef::<str>::as_ref(a).is_ascii())
        && envelope
            .to()
            .iter()
            .all(|a| AsRef::<str>::as_ref(a).is_ascii());
    if !ascii_addresses {
        if !info.supports_feature(Extension::SmtpUtfEight) {
            let e = "a non-ASCII address needs SMTPUTF8, which the server does not offer";
            return Err((Stage::Mail, SmtpFailure::Client(e.into())));
        }
        params.push(MailParameter::SmtpUtfEight);
    }
    if !body.is_ascii() {
        if !info.supports_feature(Extension::EightBitMime) {
            let e = "an 8-bit message needs 8BITMIME, which the server does not offer";
            return Err((Stage::Mail, SmtpFailure::Client(e.into())));
        }
        params.push(MailParameter::Body(MailBodyParameter::EightBitMime));
    }
    conn.command(Mail::new(envelope.from().cloned(), params))
        .await
        .map_err(lettre_err(Stage::Mail))?;
    for to in envelope.to() {
        conn.command(Rcpt::new(to.clone(), vec![]))
            .await
            .map_err(lettre_err(Stage::Rcpt))?;
    }
    conn.command(Data).await.map_err(lettre_err(Stage::Data))?;
    conn.message(body).await.map_err(lettre_err(Stage::Content))
}

/// An SMTP channel with its connection pool.
pub struct SmtpChannel {
    cfg: Config,
    sender: Sender,
    /// `dkim:` of the channel: every message is signed with it before it is sent.
    dkim: Option<Arc<DkimConfig>>,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    permits: Semaphore,
}

/// The headers a DKIM signature covers (`h=`), besides the channel's own `headers:`.
/// RFC 8058 asks for both `List-Unsubscribe` headers; a header a message lacks is listed
/// all the same, so that nobody can add it on the way without breaking the signature.
/// Not `Content-Type`: lettre writes it with the body's parts, outside the headers it
/// signs, so listing it would break every signature (the body hash covers the parts).
const SIGNED_HEADERS: [&str; 9] = [
    "From",
    "To",
    "Subject",
    "Date",
    "Message-ID",
    "MIME-Version",
    "List-Unsubscribe",
    "List-Unsubscribe-Post",
    "X-Loa-Message",
];

/// The signing configuration of `dkim`, relaxed/relaxed (a relay that refolds a header
/// does not break it). Fails on a key that does not parse, naming the field.
fn dkim_config(dkim: &campaign::Dkim, sender: &Sender) -> anyhow::Result<DkimConfig> {
    if dkim.key.expose().trim().is_empty() {
        bail!("`dkim.key` is empty: put the private key in the variable it names");
    }
    let key = campaign::dkim_signing_key(dkim.key.expose(), dkim.algorithm)
        .map_err(|why| anyhow::anyhow!("`dkim.key` does not parse: {why}"))?;
    let mut headers: Vec<HeaderName> = SIGNED_HEADERS
        .iter()
        .map(|h| HeaderName::new_from_ascii_str(h))
        .collect();
    headers.extend(sender.headers.iter().map(|(name, _)| name.clone()));
    Ok(DkimConfig::new(
        dkim.selector.clone(),
        dkim.domain.clone(),
        key,
        headers,
        DkimCanonicalization {
            header: DkimCanonicalizationType::Relaxed,
            body: DkimCanonicalizationType::Relaxed,
        },
    ))
}

impl SmtpChannel {
    pub fn new(ch: &campaign::Channel) -> anyhow::Result<Self> {
        let url = ch.url.as_ref().context("an smtp channel needs `url`")?;
        let from = ch.from.as_deref().context("an smtp channel needs `from`")?;
        let sender = Sender::new(
            from,
            ch.headers.iter().map(|(k, v)| (k.as_str(), v.expose())),
        )?;
        let cfg = parse_url(url.expose(), sender.domain(), ch.timeout)?;
        let dkim = match &ch.dkim {
            Some(d) => Some(Arc::new(dkim_config(d, &sender)?)),
            None => None,
        };
        Ok(Self {
            permits: Semaphore::new(cfg.pool),
            idle: Mutex::new(Vec::with_capacity(cfg.pool)),
            cfg,
            sender,
            dkim,
        })
    }

    /// Open connections kept at most (= messages in flight).
    pub fn pool_size(&self) -> usize {
        self.cfg.pool
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        self.idle.lock().expect("smtp pool").pop()
    }

    fn give_back(&self, conn: AsyncSmtpConnection) {
        self.idle.lock().expect("smtp pool").push(conn);
    }

    async fn deliver(&self, msg: &Outgoing) -> Result<Receipt, ChannelError> {
        let mut built = email::build(&self.sender, msg)?;
        if let Some(dkim) = &self.dkim {
            // An RSA signature takes about a millisecond of CPU: off the async workers.
            let dkim = Arc::clone(dkim);
            built = tokio::task::spawn_blocking(move || {
                built.message.sign(&dkim);
                built
            })
            .await
            .map_err(|e| ChannelError::transient(format!("signing the message: {e}")))?;
        }
        let body = built.formatted();
        let envelope = built.message.envelope();
        // Servers echo the recipient in replies (`<a@b>: Recipient address rejected`).
        let mask = |e: ChannelError| e.masking(&msg.address);
        let _permit = self
            .permits
            .acquire()
            .await
            .expect("the pool is never closed");
        // A reused connection may have been closed by the server while idle; that shows at
        // MAIL, before anything of this message was sent, so one fresh try is safe.
        let mut fresh_only = false;
        for _ in 0..2 {
            let idle = if fresh_only { None } else { self.take_idle() };
            let (mut conn, reused) = match idle {
                Some(c) => (c, true),
                None => {
                    let c = open(&self.cfg)
                        .await
                        .map_err(|f| mask(classify::smtp(&f, true)))?;
                    (c, false)
                }
            };
            let result = timeout(self.cfg.timeout, transaction(&mut conn, envelope, &body)).await;
            let (stage, failure) = match result {
                Ok(Ok(response)) => {
                    self.give_back(conn);
                    return Ok(receipt(&response));
                }
                Ok(Err(e)) => e,
                Err(_) => (Stage::Content, SmtpFailure::Timeout),
            };
            let closing = matches!(failure, SmtpFailure::Reply { code: 421, .. });
            let broken = !matches!(failure, SmtpFailure::Reply { .. } | SmtpFailure::Client(_));
            if reused && stage == Stage::Mail && (closing || broken) {
                fresh_only = true; // the other idle connections are as old: do not trust them
                continue;
            }
            if !closing && !broken {
                self.reset(conn).await;
            }
            return Err(mask(classify::smtp(&failure, false)));
        }
        Err(ChannelError::transient(
            "SMTP connections keep closing before MAIL",
        ))
    }

    /// RSET after a refused transaction, and keep the connection if the server agrees.
    async fn reset(&self, mut conn: AsyncSmtpConnection) {
        if let Ok(Ok(_)) = timeout(self.cfg.timeout, conn.command(Rset)).await {
            self.give_back(conn);
        }
    }
}

impl Channel for SmtpChannel {
    fn send<'a>(&'a self, msg: &'a Outgoing) -> BoxFuture<'a, Result<Receipt, ChannelError>> {
        Box::pin(self.deliver(msg))
    }
}

/// The server's acceptance line (e.g. `2.0.0 Ok: queued as 4F1A`), the closest thing SMTP
/// has to a provider id.
fn receipt(response: &Response) -> Receipt {
    let line: String = response
        .message()
        .next()
        .unwrap_or_default()
        .chars()
        .take(200)
        .collect();
    Receipt {
        provider_id: (!line.is_empty()).then_some(line),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncWriteExt;
    use tokio::net::TcpListener;

    fn config(port: u16, scheme: &str, timeout: Duration) -> Config {
        parse_url(
            &format!("{scheme}://127.0.0.1:{port}"),
            "example.vn",
            timeout,
        )
        .unwrap()
    }

    /// A server that greets every connection with `greeting` (None: says nothing).
    async fn greeter(greeting: Option<&'static str>) -> u16 {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    if let Some(g) = greeting {
                        let _ = s.write_all(g.as_bytes()).await;
                    }
                    tokio::time::sleep(Duration::from_secs(5)).await;
                });
            }
        });
        port
    }

    /// R11 (docs/reliability.md#r11) with real errors: lettre's own reply errors, a refused
    /// connect, a timeout and a failed TLS handshake, each classified; 100 % of rows must pass.
    #[tokio::test]
    async fn r11_real_smtp_failures_are_classified() {
        let short = Duration::from_millis(300);
        let mut rows: Vec<(String, SmtpFailure, &str)> = Vec::new();
        for (code, want) in [
            ("421", "slow_down"),
            ("450", "transient"),
            ("451", "transient"),
            ("452", "transient"),
            ("454", "slow_down"),
            ("550", "permanent"),
            ("551", "permanent"),
            ("553", "permanent"),
            ("554", "permanent"),
            ("535", "paused"),
        ] {
            let greeting = Box::leak(format!("{code} 4.0.0 scripted\r\n").into_boxed_str());
            let port = greeter(Some(greeting)).await;
            let failure = open(&config(port, "smtp", short)).await.err().unwrap();
            rows.push((code.into(), failure, want));
        }
        let closed = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let closed_port = closed.local_addr().unwrap().port();
        drop(closed);
        let refused = open(&config(closed_port, "smtp", short))
            .await
            .err()
            .unwrap();
        rows.push(("connect refused".into(), refused, "transient"));
        let silent = greeter(None).await;
        let timed_out = open(&config(silent, "smtp", short)).await.err().unwrap();
        rows.push(("timeout".into(), timed_out, "transient"));
        let plain = greeter(Some("220 plain text, not TLS\r\n")).await;
        let tls = open(&config(plain, "smtps", short)).await.err().unwrap();
        assert!(matches!(tls, SmtpFailure::Tls(_)), "{tls:?}");
        rows.push(("TLS handshake failure".into(), tls, "transient"));

        let failed: Vec<String> = rows
            .iter()
            .filter_map(|(name, f, want)| {
                let got = classify::kind(&classify::smtp(f, false));
                (got != *want).then(|| format!("{name}: {f:?} → {got}, want {want}"))
            })
            .collect();
        assert_eq!(rows.len(), 13);
        assert!(failed.is_empty(), "{failed:#?}");
    }

    #[test]
    fn urls_give_security_port_pool_and_credentials() {
        let t = Duration::from_secs(15);
        let c = parse_url("smtp://mail.example.vn", "example.vn", t).unwrap();
        assert_eq!(
            (c.security, c.port, c.pool),
            (Security::Plain, 25, DEFAULT_POOL)
        );
        let c = parse_url(
            "smtp://u:p%40ss@mail.example.vn?tls=required&pool=8",
            "x",
            t,
        )
        .unwrap();
        assert_eq!(c.security, Security::StartTls { required: true });
        assert_eq!((c.port, c.pool), (587, 8));
        assert!(c.credentials.is_some());
        let c = parse_url("smtps://mail.example.vn", "x", t).unwrap();
        assert_eq!((c.security, c.port), (Security::Implicit, 465));
        assert!(c.tls.is_some());
        assert_eq!(percent_decode("p%40ss%2"), "p@ss%2");
    }

    #[test]
    fn bad_urls_are_refused_without_echoing_the_password() {
        let t = Duration::from_secs(15);
        for url in [
            "http://u:hunter2@mail.example.vn",
            "smtp://u:hunter2@mail.example.vn",
            "smtp://u:hunter2@mail.example.vn?tls=maybe",
            "smtp://u:hunter2@mail.example.vn?pool=0",
            "smtp://u:hunter2@mail.example.vn?colour=red",
        ] {
            let e = parse_url(url, "x", t).err().unwrap().to_string();
            assert!(!e.contains("hunter2"), "{e}");
        }
        // Credentials in the clear are fine on loopback (a local relay).
        assert!(parse_url("smtp://u:p@127.0.0.1:2525", "x", t).is_ok());
    }
}

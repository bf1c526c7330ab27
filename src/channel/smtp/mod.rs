//! The SMTP channel: a small pool of open connections to one relay, as many as the channel's
//! `concurrency` (relays limit the connections of one client; docs/delivery.md#concurrency).
//!
//! `config` adds the timeout and TLS setup to the URL as `crate::mail` parses it,
//! `session` opens a connection and runs one transaction on it, `dkim` says what a
//! signature covers; this file keeps the pool and decides, after each transaction, what
//! becomes of the connection. After a failed transaction the connection is reset with RSET
//! and reused; after 421, a broken connection or a timeout it is dropped and the next
//! message opens a new one. A reused connection that turns out to be closed at MAIL (idle
//! timeout on the server) is replaced once, transparently.

mod config;
mod dkim;
mod session;

use std::sync::{Arc, Mutex};

use anyhow::Context as _;
use futures::future::BoxFuture;
use lettre::message::dkim::DkimConfig;
use lettre::transport::smtp::client::AsyncSmtpConnection;
use lettre::transport::smtp::commands::Rset;
use lettre::transport::smtp::response::Response;
use tokio::sync::Semaphore;
use tokio::time::timeout;

use self::config::{Config, parse_url};
use self::dkim::dkim_config;
use self::session::{Stage, open, transaction};
use super::classify::{self, SmtpFailure};
use super::email::{self, Built, Sender};
use super::{Channel, ChannelError, Outgoing, Receipt};
use crate::campaign;

/// An SMTP channel with its connection pool.
pub(crate) struct SmtpChannel {
    cfg: Config,
    sender: Sender,
    /// `dkim:` of the channel: every message is signed with it before it is sent.
    dkim: Option<Arc<DkimConfig>>,
    idle: Mutex<Vec<AsyncSmtpConnection>>,
    permits: Semaphore,
}

impl SmtpChannel {
    pub(crate) fn new(ch: &campaign::Channel) -> anyhow::Result<Self> {
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
            permits: Semaphore::new(ch.concurrency),
            idle: Mutex::new(Vec::with_capacity(ch.concurrency)),
            cfg,
            sender,
            dkim,
        })
    }

    fn take_idle(&self) -> Option<AsyncSmtpConnection> {
        self.idle.lock().expect("smtp pool").pop()
    }

    fn give_back(&self, conn: AsyncSmtpConnection) {
        self.idle.lock().expect("smtp pool").push(conn);
    }

    async fn deliver(&self, msg: &Outgoing) -> Result<Receipt, ChannelError> {
        let built = self.sign(email::build(&self.sender, msg)?).await?;
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
            let (mut conn, reused) = self
                .connection(fresh_only)
                .await
                .map_err(|f| mask(classify::smtp(&f, true)))?;
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

    /// `built` signed with the channel's DKIM key, if it has one.
    async fn sign(&self, mut built: Built) -> Result<Built, ChannelError> {
        let Some(dkim) = &self.dkim else {
            return Ok(built);
        };
        // An RSA signature takes about a millisecond of CPU: off the async workers.
        let dkim = Arc::clone(dkim);
        tokio::task::spawn_blocking(move || {
            built.message.sign(&dkim);
            built
        })
        .await
        .map_err(|e| ChannelError::transient(format!("signing the message: {e}")))
    }

    /// An idle connection (unless `fresh_only`) or a new one; true if it was idle.
    async fn connection(
        &self,
        fresh_only: bool,
    ) -> Result<(AsyncSmtpConnection, bool), SmtpFailure> {
        let idle = if fresh_only { None } else { self.take_idle() };
        match idle {
            Some(c) => Ok((c, true)),
            None => Ok((open(&self.cfg).await?, false)),
        }
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
    use super::config::Security;
    use super::*;
    use std::time::Duration;
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
    fn only_smtps_urls_get_a_tls_connector_of_their_own() {
        let t = Duration::from_secs(15);
        let c = parse_url("smtps://mail.example.vn", "x", t).unwrap();
        assert_eq!((c.security, c.port), (Security::Implicit, 465));
        assert!(c.tls.is_some());
        let c = parse_url("smtp://mail.example.vn?tls=required", "x", t).unwrap();
        assert!(c.tls.is_none());
        assert_eq!(c.timeout, t);
    }
}

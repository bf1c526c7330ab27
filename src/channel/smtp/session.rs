//! One SMTP session: opened over our own socket, then one MAIL/RCPT/DATA transaction at a
//! time.
//!
//! lettre 0.11.23 never sets `TCP_NODELAY` and writes the body and the final `.` in two
//! writes, which costs a Nagle/delayed-ACK stall of ~40 ms per message (BENCHMARKS.md,
//! lettre PR #1159). So we open the `TcpStream` ourselves with `set_nodelay(true)`, wrap it
//! in TLS ourselves for `smtps`, and hand it to `AsyncSmtpConnection::connect_with_transport`;
//! lettre still speaks the protocol (EHLO, STARTTLS, AUTH, dot-stuffing, reply parsing).
//!
//! The transaction (MAIL, RCPT, DATA) is driven here rather than by
//! `AsyncSmtpConnection::send`, which QUITs the connection on any negative reply: a 550 for
//! one recipient should not cost a reconnect; the pool (the parent module) decides what
//! becomes of the connection after a failure.

use std::io;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use lettre::address::Envelope;
use lettre::transport::smtp::authentication::Mechanism;
use lettre::transport::smtp::client::{AsyncSmtpConnection, AsyncTokioStream, TlsParameters};
use lettre::transport::smtp::commands::{Data, Mail, Rcpt};
use lettre::transport::smtp::extension::{Extension, MailBodyParameter, MailParameter};
use lettre::transport::smtp::response::Response;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::time::timeout;
use tokio_rustls::rustls::pki_types::ServerName;

use super::config::{Config, Security};
use crate::channel::classify::SmtpFailure;

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
pub(super) async fn open(cfg: &Config) -> Result<AsyncSmtpConnection, SmtpFailure> {
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
pub(super) enum Stage {
    Mail,
    Rcpt,
    Data,
    Content,
}

/// One MAIL/RCPT/DATA transaction on an open session.
pub(super) async fn transaction(
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

//! The block of log lines `loa run` starts with: what is on and what is off, and why —
//! the dashboard, each callback route, the public URL of unsubscribe links, campaigns
//! that ended or wait for their period, and another daemon on the same ledger.
//!
//! [`lines`] decides them without I/O (tested below); [`log`] writes them, one `tracing`
//! event each, INFO or WARN.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use chrono::{DateTime, Utc};

use super::heartbeat::Other;
use crate::campaign::{ChannelKind, Status, Workspace};
use crate::dispatch::housekeeping::{Phase, phase};
use crate::web::KeysEnv;

/// What the start-up block is made from.
pub(crate) struct Facts<'a> {
    pub ws: &'a Workspace,
    pub env: &'a KeysEnv,
    pub public_url: &'a str,
    /// Where the HTTP side listens, as bound.
    pub addr: SocketAddr,
    pub other: Option<Other>,
    pub now: DateTime<Utc>,
    /// Staff accounts in the ledger: (all, enabled); `None`: they could not be read.
    pub accounts: Option<(usize, usize)>,
    /// Whether only approved versions are sent (off with `--outbox` or `--approval off`).
    pub approval: bool,
}

/// One line of the block; `warn` lines call for the operator's attention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Line {
    pub warn: bool,
    pub text: String,
}

fn info(text: String) -> Line {
    Line { warn: false, text }
}

fn warn(text: String) -> Line {
    Line { warn: true, text }
}

/// The block, in order.
pub(crate) fn lines(f: &Facts<'_>) -> Vec<Line> {
    let mut out = vec![dashboard(f)];
    out.extend(callbacks(f));
    out.push(public_url(f.public_url, f.addr));
    out.push(approval(f.approval));
    out.extend(periods(f.ws, f.now));
    if let Some(o) = &f.other {
        out.push(warn(format!(
            "another daemon ({}) is working on this ledger (heartbeat {}s ago): that is safe, \
             claims are fenced, but gains nothing, as SQLite takes one writer at a time; \
             stop one of them",
            o.owner,
            o.ago.as_secs()
        )));
    }
    out
}

/// Writes the block to the log.
pub(crate) fn log(lines: &[Line]) {
    for l in lines {
        if l.warn {
            tracing::warn!("{}", l.text);
        } else {
            tracing::info!("{}", l.text);
        }
    }
}

fn dashboard(f: &Facts<'_>) -> Line {
    let base = f.public_url.trim_end_matches('/');
    match (f.accounts, f.env.admin_token.is_some()) {
        (Some((all, enabled)), _) if all > 0 => info(format!(
            "dashboard: on at {base}/ (log in with a staff account, {enabled} of {all} \
             enabled: `loa user list`; LOA_ADMIN_TOKEN is not accepted once accounts exist)"
        )),
        (_, true) => info(format!(
            "dashboard: on at {base}/ (log in with LOA_ADMIN_TOKEN until the first staff \
             account is added with `loa user add`)"
        )),
        (_, false) => info(
            "dashboard: off (set LOA_ADMIN_TOKEN, at least 16 characters, or add a staff \
             account with `loa user add NAME --role admin`, to turn it on)"
                .to_owned(),
        ),
    }
}

/// Whether active campaigns wait for four-eyes approval (docs/approval.md).
fn approval(on: bool) -> Line {
    if on {
        info(
            "approval: on (an active campaign sends only a version approved with `loa submit` \
             and `loa approve`, or the dashboard's buttons)"
                .to_owned(),
        )
    } else {
        info(
            "approval: off (--outbox, or --approval off: active campaigns send as they are on \
             disk)"
                .to_owned(),
        )
    }
}

/// One line per callback route that is on, or that a channel of the campaigns could use.
fn callbacks(f: &Facts<'_>) -> Vec<Line> {
    let enabled: BTreeSet<&str> = f.env.callbacks.iter().map(String::as_str).collect();
    let mut routes: BTreeSet<String> = enabled.iter().map(|r| (*r).to_owned()).collect();
    for c in &f.ws.campaigns {
        for (name, ch) in &c.channels {
            match ch.kind {
                ChannelKind::Webhook => routes.insert(format!("webhook/{name}")),
                ChannelKind::ZaloZns => routes.insert("zalo".to_owned()),
                _ => false,
            };
        }
    }
    if routes.is_empty() {
        return vec![info(
            "callbacks: none (no webhook or Zalo channel, LOA_CALLBACKS empty)".to_owned(),
        )];
    }
    routes
        .iter()
        .map(|r| {
            if enabled.contains(r.as_str()) {
                info(format!("callback /callbacks/{r}: on (LOA_CALLBACKS)"))
            } else {
                info(format!(
                    "callback /callbacks/{r}: off (not in LOA_CALLBACKS; delivery receipts \
                     for it are not taken)"
                ))
            }
        })
        .collect()
}

/// The public URL, and a warning when it cannot reach this daemon: a loopback URL on
/// another port, or a loopback URL while listening on other addresses. A non-loopback
/// host may be a proxy in front of the daemon; that cannot be checked from here.
fn public_url(public: &str, addr: SocketAddr) -> Line {
    let said = format!("public URL (in unsubscribe links): {public}");
    let Ok(url) = url::Url::parse(public) else {
        return warn(format!(
            "{said} is not a URL; set --public-url or LOA_PUBLIC_URL"
        ));
    };
    let loopback = match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    };
    if !loopback {
        return info(said);
    }
    let port = url.port_or_known_default();
    if port != Some(addr.port()) || !addr.ip().is_loopback() {
        return warn(format!(
            "{said} does not point at this daemon, which listens on {addr}; recipients' \
             links would fail: set --public-url or LOA_PUBLIC_URL to the address they reach \
             it at"
        ));
    }
    info(format!("{said} (reachable from this machine only)"))
}

/// Active campaigns whose period has ended or not begun.
fn periods(ws: &Workspace, now: DateTime<Utc>) -> Vec<Line> {
    ws.campaigns
        .iter()
        .filter(|c| c.status == Status::Active)
        .filter_map(|c| match phase(c, now) {
            Phase::Ended(end) => Some(info(format!(
                "campaign {}: ended on {end}; nothing more to send",
                c.id
            ))),
            Phase::Waiting(start) => Some(info(format!(
                "campaign {}: waiting, its period starts on {start}",
                c.id
            ))),
            Phase::Running => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn the_default_public_url_warns_when_the_daemon_listens_elsewhere() {
        let l = public_url("http://127.0.0.1:8080", addr("127.0.0.1:9000"));
        assert!(
            l.warn && l.text.contains("does not point at this daemon"),
            "{l:?}"
        );
        let l = public_url("http://127.0.0.1:8080", addr("0.0.0.0:8080"));
        assert!(l.warn, "listening beyond loopback: {l:?}");
    }

    #[test]
    fn a_public_url_that_matches_or_names_another_host_does_not_warn() {
        let l = public_url("http://localhost:8080/", addr("127.0.0.1:8080"));
        assert!(!l.warn, "{l:?}");
        let l = public_url("https://loa.example.vn", addr("0.0.0.0:8080"));
        assert!(!l.warn, "{l:?}");
        assert!(public_url("loa.example.vn", addr("0.0.0.0:8080")).warn);
    }
}

//! `channels:`: each channel's type, the fields that type takes and needs, its rate,
//! timeout and concurrency. Secrets must come from the environment (`secrets`); an smtp
//! channel is also put through the checks its transport makes when it is built (`smtp`)
//! and may sign with DKIM (`dkim`).
//!
//! What differs between channel types is a row of a table here (`allowed`, `required`)
//! rather than a file per type: a webhook or Zalo channel has no check beyond its fields.

mod dkim;
mod secrets;
mod smtp;

pub(crate) use dkim::signing_key;

use std::time::Duration;

use indexmap::IndexMap;

use crate::campaign::check::{Checker, suggest};
use crate::campaign::locate::FieldPath;
use crate::campaign::model::{
    Channel, ChannelKind, Dkim, MAX_CONCURRENCY, Rate, Secret, default_concurrency,
};
use crate::campaign::spec::{ChannelSpec, Number};

/// Default time a provider gets to answer one request (docs/reliability.md#rule-6).
pub(super) const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

pub(super) fn channels(
    specs: &IndexMap<String, ChannelSpec>,
    c: &mut Checker<'_>,
) -> IndexMap<String, Channel> {
    let mut out = IndexMap::new();
    for (name, spec) in specs {
        let path = FieldPath::root().key("channels").key(name.as_str());
        if let Some(ch) = channel(name, spec, &path, c) {
            out.insert(name.clone(), ch);
        }
    }
    out
}

/// Which optional fields each channel type takes.
fn allowed(kind: ChannelKind) -> &'static [&'static str] {
    match kind {
        ChannelKind::Smtp => &[
            "url",
            "from",
            "rate",
            "concurrency",
            "to",
            "timeout",
            "headers",
            "dkim",
        ],
        ChannelKind::ZaloZns => &[
            "access_token",
            "refresh_token",
            "app_id",
            "app_secret",
            "endpoint",
            "rate",
            "concurrency",
            "to",
            "timeout",
        ],
        ChannelKind::Webhook => &[
            "url",
            "method",
            "body",
            "headers",
            "secret",
            "rate",
            "concurrency",
            "to",
            "timeout",
        ],
    }
}

fn present(spec: &ChannelSpec) -> Vec<&'static str> {
    let fields: [(&'static str, bool); 16] = [
        ("url", spec.url.is_some()),
        ("from", spec.from.is_some()),
        ("access_token", spec.access_token.is_some()),
        ("refresh_token", spec.refresh_token.is_some()),
        ("app_id", spec.app_id.is_some()),
        ("app_secret", spec.app_secret.is_some()),
        ("endpoint", spec.endpoint.is_some()),
        ("method", spec.method.is_some()),
        ("body", spec.body.is_some()),
        ("headers", !spec.headers.is_empty()),
        ("secret", spec.secret.is_some()),
        ("rate", spec.rate.is_some()),
        ("concurrency", spec.concurrency.is_some()),
        ("to", spec.to.is_some()),
        ("timeout", spec.timeout.is_some()),
        ("dkim", spec.dkim.is_some()),
    ];
    fields
        .iter()
        .filter(|(_, set)| *set)
        .map(|(n, _)| *n)
        .collect()
}

fn channel(
    name: &str,
    spec: &ChannelSpec,
    path: &FieldPath,
    c: &mut Checker<'_>,
) -> Option<Channel> {
    let kind = kind(spec.kind.as_deref(), path, c)?;
    fields(kind, spec, path, c);
    secrets::come_from_env(spec, path, c);
    let dkim = spec
        .dkim
        .as_ref()
        .filter(|_| kind == ChannelKind::Smtp)
        .and_then(|d| dkim::dkim(d, &path.key("dkim"), c));
    let rate = rate(spec.rate.as_deref(), path, c);
    let timeout = timeout(spec.timeout.as_deref(), path, c)?;
    let concurrency = concurrency(kind, spec.concurrency.as_ref(), path, c);
    if kind == ChannelKind::Smtp {
        smtp::settings(spec, path, c);
    }
    let checked = Checked {
        rate,
        timeout,
        concurrency,
        dkim,
    };
    Some(build(name, kind, spec, checked))
}

fn kind(kind: Option<&str>, path: &FieldPath, c: &mut Checker<'_>) -> Option<ChannelKind> {
    let Some(k) = kind else {
        c.missing(
            &path.key("type"),
            "add `type: smtp`, `type: zalo_zns` or `type: webhook`",
        );
        return None;
    };
    let kind = ChannelKind::parse(k);
    if kind.is_none() {
        c.error(
            &path.key("type"),
            format!("unknown channel type {k:?}"),
            suggest(k, ["smtp", "zalo_zns", "webhook"]),
        );
    }
    kind
}

/// Only the fields `kind` takes are set, and every field it needs.
fn fields(kind: ChannelKind, spec: &ChannelSpec, path: &FieldPath, c: &mut Checker<'_>) {
    for field in present(spec)
        .into_iter()
        .filter(|f| !allowed(kind).contains(f))
    {
        let msg = format!("`{field}` does not apply to a {} channel", kind.as_str());
        c.key_error(
            &path.key(field),
            msg,
            format!(
                "fields for {}: type, {}",
                kind.as_str(),
                allowed(kind).join(", ")
            ),
        );
    }
    let required: &[(&str, &Option<String>)] = match kind {
        ChannelKind::Smtp => &[("url", &spec.url), ("from", &spec.from)],
        ChannelKind::ZaloZns => &[("access_token", &spec.access_token)],
        ChannelKind::Webhook => &[("url", &spec.url)],
    };
    for (field, value) in required {
        if value.is_none() {
            c.missing(
                &path.key(*field),
                format!("a {} channel needs `{field}`", kind.as_str()),
            );
        }
    }
}

fn rate(rate: Option<&str>, path: &FieldPath, c: &mut Checker<'_>) -> Option<Rate> {
    parse_rate(rate?)
        .map_err(|e| {
            c.error(
                &path.key("rate"),
                e,
                "write a rate as 20/s, 600/m or 1000/h",
            )
        })
        .ok()
}

/// The timeout as written, or the default; `None` when it does not parse.
fn timeout(timeout: Option<&str>, path: &FieldPath, c: &mut Checker<'_>) -> Option<Duration> {
    let Some(t) = timeout else {
        return Some(DEFAULT_TIMEOUT);
    };
    let hint = "write a duration as 15s, 500ms or 1m (the default is 15s)";
    let d = parse_duration(t)
        .map_err(|e| c.error(&path.key("timeout"), e, hint))
        .ok()?;
    if d.is_zero() {
        let msg = format!("timeout {t:?} is zero: every request would time out");
        c.error(&path.key("timeout"), msg, hint);
    }
    Some(d)
}

/// `concurrency:` as written, or the default of `kind`. A value that is not a count from 1
/// to [`MAX_CONCURRENCY`] is reported (and the default stands in, so that nothing else is
/// reported for it).
fn concurrency(
    kind: ChannelKind,
    written: Option<&Number>,
    path: &FieldPath,
    c: &mut Checker<'_>,
) -> usize {
    let default = default_concurrency(kind);
    let Some(n) = written else {
        return default;
    };
    // A quoted number, e.g. from `"${SMTP_CONNECTIONS:-8}"`, is a number too.
    let n = match n {
        Number::Text(t) => t.trim().parse().map_or(n.clone(), Number::Integer),
        n => n.clone(),
    };
    let problem = match &n {
        Number::Integer(n) if (1..=MAX_CONCURRENCY as i64).contains(n) => return *n as usize,
        Number::Integer(n) if *n < 1 => {
            format!("concurrency {n} sends nothing: it must be at least 1")
        }
        Number::Integer(n) => format!("concurrency {n} is more than {MAX_CONCURRENCY}"),
        Number::Decimal(n) => format!("concurrency {n} is not a whole number"),
        Number::Text(t) => format!("concurrency {t:?} is not a number"),
    };
    let hint = format!(
        "a whole number from 1 to {MAX_CONCURRENCY} (messages in flight at once; the default \
         for {} is {default}); slow a channel down with `rate:`",
        kind.as_str()
    );
    c.error(&path.key("concurrency"), problem, hint);
    default
}

/// What `channel` checked besides the fields taken as written.
struct Checked {
    rate: Option<Rate>,
    timeout: Duration,
    concurrency: usize,
    dkim: Option<Dkim>,
}

/// The channel from its checked parts and the fields taken as written: secrets wrapped,
/// the method upper-cased, the recipient column defaulted by kind.
fn build(name: &str, kind: ChannelKind, spec: &ChannelSpec, checked: Checked) -> Channel {
    let Checked {
        rate,
        timeout,
        concurrency,
        dkim,
    } = checked;
    Channel {
        name: name.to_string(),
        kind,
        url: spec.url.clone().map(Secret::new),
        from: spec.from.clone(),
        access_token: spec.access_token.clone().map(Secret::new),
        refresh_token: spec.refresh_token.clone().map(Secret::new),
        app_id: spec.app_id.clone(),
        app_secret: spec.app_secret.clone().map(Secret::new),
        endpoint: spec.endpoint.clone(),
        method: spec
            .method
            .clone()
            .unwrap_or_else(|| "POST".into())
            .to_uppercase(),
        body: spec.body.clone(),
        headers: spec
            .headers
            .iter()
            .map(|(k, v)| (k.clone(), Secret::new(v.clone())))
            .collect(),
        secret: spec.secret.clone().map(Secret::new),
        rate,
        recipient_field: spec
            .to
            .clone()
            .unwrap_or_else(|| kind.default_recipient_field().to_string()),
        timeout,
        concurrency,
        dkim,
    }
}

pub(crate) fn parse_rate(s: &str) -> Result<Rate, String> {
    let (n, unit) = s.split_once('/').ok_or_else(|| format!("bad rate {s:?}"))?;
    let n: f64 = n
        .trim()
        .parse()
        .map_err(|_| format!("bad rate {s:?}: {n:?} is not a number"))?;
    let secs = match unit.trim() {
        "s" | "sec" | "second" => 1.0,
        "m" | "min" | "minute" => 60.0,
        "h" | "hour" => 3600.0,
        u => return Err(format!("bad rate {s:?}: unknown unit {u:?}")),
    };
    if !(n > 0.0 && n.is_finite()) {
        return Err(format!("bad rate {s:?}: must be more than 0"));
    }
    Ok(Rate {
        per_second: n / secs,
    })
}

pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let s = s.trim();
    let split = s.find(|ch: char| !ch.is_ascii_digit()).unwrap_or(s.len());
    let (n, unit) = s.split_at(split);
    let n: u64 = n.parse().map_err(|_| format!("bad duration {s:?}"))?;
    match unit.trim() {
        "ms" => Ok(Duration::from_millis(n)),
        "s" | "" => Ok(Duration::from_secs(n)),
        "m" | "min" => Ok(Duration::from_secs(n * 60)),
        u => Err(format!("bad duration {s:?}: unknown unit {u:?}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_are_read_per_second_minute_and_hour() {
        assert_eq!(parse_rate("20/s").unwrap().per_second, 20.0);
        assert_eq!(parse_rate("600/m").unwrap().per_second, 10.0);
        assert_eq!(parse_rate("3600/h").unwrap().per_second, 1.0);
        assert!(parse_rate("0/s").is_err());
        assert!(parse_rate("fast").is_err());
    }

    #[test]
    fn durations_accept_ms_seconds_and_minutes() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("15s").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_duration("soon").is_err());
    }
}

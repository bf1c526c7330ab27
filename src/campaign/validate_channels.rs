//! Checks for the `audiences:` and `channels:` sections (docs/campaign-file.md#audiences,
//! docs/campaign-file.md#channels).

use std::collections::HashMap;
use std::path::Path;
use std::time::Duration;

use indexmap::IndexMap;

use super::check::{Checker, suggest};
use super::locate::FieldPath;
use super::model::{Audience, Channel, ChannelKind, Dkim, DkimAlgorithm, Rate, Secret};
use super::spec::{AudienceSpec, ChannelSpec, DkimSpec};
use crate::audience::ColumnType;

/// Default time a provider gets to answer one request (docs/reliability.md#rule-6).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15);

pub fn audiences(
    specs: &IndexMap<String, AudienceSpec>,
    file: &Path,
    c: &mut Checker<'_>,
) -> IndexMap<String, Audience> {
    let dir = file.parent().unwrap_or(Path::new("."));
    let names: Vec<&str> = specs.keys().map(String::as_str).collect();
    let mut out = IndexMap::new();
    for (name, spec) in specs {
        let path = FieldPath::root().key("audiences").key(name.as_str());
        if let Some(a) = audience(name, spec, dir, &names, &path, c) {
            out.insert(name.clone(), a);
        }
    }
    out
}

fn audience(
    name: &str,
    spec: &AudienceSpec,
    dir: &Path,
    names: &[&str],
    path: &FieldPath,
    c: &mut Checker<'_>,
) -> Option<Audience> {
    let source = match &spec.source {
        Some(s) => {
            let p = dir.join(s);
            if !p.is_file() {
                c.error(
                    &path.key("source"),
                    format!("data file {} does not exist", p.display()),
                    "paths are relative to the campaign file, e.g. data/schools.csv",
                );
            } else if let Err(e) = super::data_dirs::check_inside(&p, dir) {
                c.error(&path.key("source"), e, super::data_dirs::HINT);
            }
            Some(p)
        }
        None => {
            c.missing(&path.key("source"), "add `source: data/<file>.csv`");
            None
        }
    };
    if spec.key.is_none() {
        c.missing(
            &path.key("key"),
            "add `key: <column>`, a column unique per row (e.g. student_id)",
        );
    }
    for (alias, target) in &spec.join {
        let p = path.key("join").key(alias.as_str());
        if !names.contains(&target.as_str()) || target == name {
            let hint = suggest(target, names.iter().copied().filter(|n| *n != name));
            c.error(&p, format!("unknown audience {target:?} to join"), hint);
        }
    }
    let columns = columns(&spec.columns, &path.key("columns"), c);
    Some(Audience {
        name: name.to_string(),
        source: source?,
        key: spec.key.clone()?,
        joins: spec.join.clone(),
        columns,
    })
}

fn columns(
    specs: &IndexMap<String, String>,
    path: &FieldPath,
    c: &mut Checker<'_>,
) -> HashMap<String, ColumnType> {
    const KNOWN: [&str; 7] = [
        "text", "integer", "decimal", "bool", "date", "phone", "email",
    ];
    let mut out = HashMap::new();
    for (col, ty) in specs {
        let t = match ty.as_str() {
            "text" => ColumnType::Text,
            "integer" => ColumnType::Integer,
            "decimal" => ColumnType::Decimal,
            "bool" => ColumnType::Bool,
            "date" => ColumnType::Date,
            "phone" => ColumnType::Phone,
            "email" => ColumnType::Email,
            other => {
                c.error(
                    &path.key(col.as_str()),
                    format!("unknown column type {other:?}"),
                    suggest(other, KNOWN),
                );
                continue;
            }
        };
        out.insert(col.clone(), t);
    }
    out
}

pub fn channels(
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
        ChannelKind::Smtp => &["url", "from", "rate", "to", "timeout", "headers", "dkim"],
        ChannelKind::ZaloZns => &[
            "access_token",
            "refresh_token",
            "app_id",
            "app_secret",
            "endpoint",
            "rate",
            "to",
            "timeout",
        ],
        ChannelKind::Webhook => &[
            "url", "method", "body", "headers", "secret", "rate", "to", "timeout",
        ],
    }
}

fn present(spec: &ChannelSpec) -> Vec<&'static str> {
    let fields: [(&'static str, bool); 15] = [
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
    let kind = match spec.kind.as_deref() {
        None => {
            c.missing(
                &path.key("type"),
                "add `type: smtp`, `type: zalo_zns` or `type: webhook`",
            );
            return None;
        }
        Some(k) => match ChannelKind::parse(k) {
            Some(kind) => kind,
            None => {
                c.error(
                    &path.key("type"),
                    format!("unknown channel type {k:?}"),
                    suggest(k, ["smtp", "zalo_zns", "webhook"]),
                );
                return None;
            }
        },
    };
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
    secrets_come_from_env(spec, path, c);
    let dkim = spec
        .dkim
        .as_ref()
        .filter(|_| kind == ChannelKind::Smtp)
        .and_then(|d| dkim(d, &path.key("dkim"), c));
    let rate = spec.rate.as_deref().and_then(|r| {
        parse_rate(r)
            .map_err(|e| {
                c.error(
                    &path.key("rate"),
                    e,
                    "write a rate as 20/s, 600/m or 1000/h",
                )
            })
            .ok()
    });
    let timeout = match spec.timeout.as_deref() {
        None => DEFAULT_TIMEOUT,
        Some(t) => {
            let hint = "write a duration as 15s, 500ms or 1m (the default is 15s)";
            let d = parse_duration(t)
                .map_err(|e| c.error(&path.key("timeout"), e, hint))
                .ok()?;
            if d.is_zero() {
                let msg = format!("timeout {t:?} is zero: every request would time out");
                c.error(&path.key("timeout"), msg, hint);
            }
            d
        }
    };
    if kind == ChannelKind::Smtp {
        smtp_settings(spec, path, c);
    }
    Some(Channel {
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
        dkim,
    })
}

/// `from`, `headers` and `url` of an smtp channel, through the checks the channel itself
/// makes when the daemon builds it, so that `loa run` does not stop on them after it has
/// opened its HTTP port. A URL left empty by a missing variable is reported as that.
fn smtp_settings(spec: &ChannelSpec, path: &FieldPath, c: &mut Checker<'_>) {
    use crate::channel::{email, smtp};
    if let Some(from) = spec.from.as_deref() {
        match email::parse_mailbox(from) {
            Err(e) => c.error(
                &path.key("from"),
                format!("{e:#}"),
                "write `from: \"Name <address@domain>\"` on one line",
            ),
            Ok(_) => {
                let headers = spec.headers.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                if let Err(e) = email::Sender::new(from, headers) {
                    c.error(
                        &path.key("headers"),
                        format!("{e:#}"),
                        "give extra headers such as Reply-To; loa sets From, To, Subject and the rest itself",
                    );
                }
            }
        }
    }
    if let Some(url) = spec.url.as_deref().filter(|u| !u.trim().is_empty())
        && let Err(e) = smtp::check_url(url)
    {
        c.error(
            &path.key("url"),
            e,
            "smtp://host:port or smtps://host:port, options tls=required|starttls|opportunistic|none, pool=N, helo=NAME",
        );
    }
}

/// `dkim:` of an smtp channel: every field there, a known algorithm, and a key that
/// parses as one (when the environment gave it: `loa validate` may run without).
fn dkim(spec: &DkimSpec, path: &FieldPath, c: &mut Checker<'_>) -> Option<Dkim> {
    let hints = [
        (
            "domain",
            &spec.domain,
            "the domain that signs, e.g. `domain: bhxh.gov.vn`",
        ),
        (
            "selector",
            &spec.selector,
            "the DNS name of the public key, e.g. `selector: loa2026` for loa2026._domainkey.<domain>",
        ),
        (
            "key",
            &spec.key,
            "write `key: \"${LOA_DKIM_KEY}\"` and put the private key in that variable",
        ),
    ];
    for (field, value, hint) in hints {
        if value.as_deref().is_none_or(|v| v.trim().is_empty()) && c.raw(&path.key(field)).is_none()
        {
            c.missing(&path.key(field), hint);
        }
    }
    let algorithm = match spec.algorithm.as_deref() {
        None | Some("rsa") => DkimAlgorithm::Rsa,
        Some("ed25519") => DkimAlgorithm::Ed25519,
        Some(other) => {
            c.error(
                &path.key("algorithm"),
                format!("unknown DKIM algorithm {other:?}"),
                suggest(other, ["rsa", "ed25519"]),
            );
            return None;
        }
    };
    // Empty when `loa validate` ran without the environment; the channel refuses to start
    // with an empty key.
    let key = spec.key.clone().unwrap_or_default();
    if !key.trim().is_empty()
        && let Err(why) = signing_key(&key, algorithm)
    {
        c.error(
            &path.key("key"),
            format!("the DKIM key does not parse: {why}"),
            match algorithm {
                DkimAlgorithm::Rsa => {
                    "give an RSA private key in PKCS#1 PEM (-----BEGIN RSA PRIVATE KEY-----); \
                 `openssl rsa -in key.pem -traditional` converts a PKCS#8 one"
                }
                DkimAlgorithm::Ed25519 => "give the base64 of the 32-byte Ed25519 seed",
            },
        );
        return None;
    }
    Some(Dkim {
        domain: spec.domain.clone()?.trim().to_owned(),
        selector: spec.selector.clone()?.trim().to_owned(),
        key: Secret::new(key),
        algorithm,
    })
}

/// The lettre signing key for `key`, or why it is not one.
pub fn signing_key(
    key: &str,
    algorithm: DkimAlgorithm,
) -> Result<lettre::message::dkim::DkimSigningKey, String> {
    use lettre::message::dkim::{DkimSigningAlgorithm, DkimSigningKey};
    let algorithm = match algorithm {
        DkimAlgorithm::Rsa => DkimSigningAlgorithm::Rsa,
        DkimAlgorithm::Ed25519 => DkimSigningAlgorithm::Ed25519,
    };
    // The error says what failed to parse, never the key itself.
    DkimSigningKey::new(key.trim(), algorithm).map_err(|e| e.to_string())
}

/// Secrets never live in the campaign file (docs/campaign-file.md#secrets). Tokens, keys and
/// credentials in URLs must be `${NAME}` references, checked on the text as written
/// (docs/reliability.md#r22).
fn secrets_come_from_env(spec: &ChannelSpec, path: &FieldPath, c: &mut Checker<'_>) {
    let mut fields: Vec<FieldPath> = ["access_token", "refresh_token", "app_secret", "secret"]
        .iter()
        .map(|f| path.key(*f))
        .collect();
    fields.push(path.key("dkim").key("key"));
    fields.extend(
        spec.headers
            .keys()
            .filter(|h| {
                h.eq_ignore_ascii_case("authorization") || h.to_ascii_lowercase().contains("token")
            })
            .map(|h| path.key("headers").key(h.as_str())),
    );
    for p in fields {
        if let Some(raw) = c.raw(&p)
            && !raw.contains("${")
        {
            let raw_len = raw.len();
            c.error(
                &p,
                format!("a secret is written in the file ({raw_len} characters)"),
                "put it in an environment variable and write \"${NAME}\"",
            );
        }
    }
    let url = path.key("url");
    if let Some(raw) = c.raw(&url)
        && let Some((_, rest)) = raw.split_once("://")
        && let Some((userinfo, _)) = rest.split_once('@')
        && userinfo.contains(':')
        && !userinfo.contains("${")
    {
        c.error(
            &url,
            "the URL holds a password",
            "write the whole URL, or the password, as \"${NAME}\" from the environment",
        );
    }
}

pub fn parse_rate(s: &str) -> Result<Rate, String> {
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
    fn dkim_keys_parse_as_pkcs1_rsa_or_an_ed25519_seed_and_errors_do_not_quote_them() {
        let rsa = include_str!("../../tests/fixtures/dkim-test-rsa.pem");
        assert!(signing_key(rsa, DkimAlgorithm::Rsa).is_ok());
        assert!(signing_key(rsa, DkimAlgorithm::Ed25519).is_err());
        let seed = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
        assert!(signing_key(seed, DkimAlgorithm::Ed25519).is_ok());
        let half = "nWGxne/9WmC6hEr0kuwsxA==";
        assert!(
            signing_key(half, DkimAlgorithm::Ed25519).is_err(),
            "16 bytes"
        );
        let garbage = "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0\n-----END RSA PRIVATE KEY-----";
        let why = signing_key(garbage, DkimAlgorithm::Rsa).unwrap_err();
        assert!(!why.contains("c2VjcmV0"), "{why}");
    }

    #[test]
    fn durations_accept_ms_seconds_and_minutes() {
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("15s").unwrap(), Duration::from_secs(15));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_duration("soon").is_err());
    }
}

//! What a provider's answer means for the message: the classification tables.
//!
//! - SMTP (RFC 5321 §4.2.1): `4yz` transient, `5yz` permanent; lettre already knows which
//!   is which (`Error::is_transient` / `is_permanent` / `status`), so [`SmtpFailure`] is read
//!   from its error rather than re-derived. 421 and 454 also mean "slow down"; 530/534/535
//!   (authentication) pause the channel: every message would fail the same way.
//! - HTTP (docs/delivery.md#classification): only 2xx is success; 408, 429 and 5xx are transient
//!   (429 slows down), `Retry-After` in seconds or as an HTTP-date is honoured (RFC 9110
//!   §10.2.3); 3xx and every other 4xx are permanent.
//! - Zalo ZNS (docs/delivery.md#classification): HTTP 200 with a negative `error` code in the body.

use std::time::{Duration, SystemTime};

use chrono::{DateTime, Days, NaiveTime, TimeZone, Utc};
use chrono_tz::Asia::Ho_Chi_Minh;

use super::ChannelError;

/// One SMTP failure, in the terms the tables need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SmtpFailure {
    /// A negative reply from the server.
    Reply {
        code: u16,
        text: String,
    },
    Timeout,
    /// The TCP connection could not be opened.
    Connect(String),
    /// The TLS handshake failed.
    Tls(String),
    /// The connection broke, or the server's reply could not be read.
    Network(String),
    /// lettre refused locally (e.g. no AUTH mechanism in common, no 8BITMIME).
    Client(String),
}

impl SmtpFailure {
    /// Reads lettre's own classification of its error.
    pub(crate) fn from_lettre(e: &lettre::transport::smtp::Error) -> Self {
        if let Some(code) = e.status() {
            return Self::Reply {
                code: u16::from(code),
                text: e.to_string(),
            };
        }
        if e.is_timeout() {
            Self::Timeout
        } else if e.is_tls() {
            Self::Tls(e.to_string())
        } else if e.is_client() {
            Self::Client(e.to_string())
        } else {
            Self::Network(e.to_string())
        }
    }
}

/// SMTP replies that say "you are sending too fast / closing now" (RFC 5321 §3.8, SES 454).
const SMTP_SLOW_DOWN: [u16; 2] = [421, 454];
/// Authentication required / too weak / refused: the channel's credentials are wrong.
const SMTP_PAUSE: [u16; 3] = [530, 534, 535];

/// Classifies an SMTP failure. `connecting` is true while opening the session (greeting,
/// EHLO, STARTTLS, AUTH), where a local refusal means the channel is misconfigured.
pub(crate) fn smtp(failure: &SmtpFailure, connecting: bool) -> ChannelError {
    match failure {
        SmtpFailure::Reply { code, text } => {
            let c = Some(code.to_string());
            if SMTP_PAUSE.contains(code) {
                ChannelError::Paused {
                    message: format!("SMTP authentication failed: {text}"),
                    code: c,
                    until: None,
                }
            } else if (400..500).contains(code) {
                ChannelError::Transient {
                    message: format!("SMTP {text}"),
                    code: c,
                    retry_after: None,
                    slow_down: SMTP_SLOW_DOWN.contains(code),
                }
            } else {
                ChannelError::Permanent {
                    message: format!("SMTP {text}"),
                    code: c,
                    no_account: false,
                }
            }
        }
        SmtpFailure::Timeout => ChannelError::transient("SMTP server timed out"),
        SmtpFailure::Connect(e) => ChannelError::transient(format!("SMTP connect failed: {e}")),
        SmtpFailure::Tls(e) => ChannelError::transient(format!("SMTP TLS failed: {e}")),
        SmtpFailure::Network(e) => ChannelError::transient(format!("SMTP connection lost: {e}")),
        SmtpFailure::Client(e) if connecting => {
            ChannelError::paused(format!("SMTP session refused locally: {e}"))
        }
        SmtpFailure::Client(e) => ChannelError::permanent(format!("SMTP message refused: {e}")),
    }
}

/// Classifies a non-2xx HTTP status. `retry_after` is the parsed `Retry-After` header.
pub(crate) fn http_status(
    status: u16,
    retry_after: Option<Duration>,
    detail: &str,
) -> ChannelError {
    let code = Some(status.to_string());
    let message = if detail.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {detail}")
    };
    match status {
        408 | 429 | 500..=599 => ChannelError::Transient {
            message,
            code,
            retry_after,
            slow_down: status == 429,
        },
        _ => ChannelError::Permanent {
            message,
            code,
            no_account: false,
        },
    }
}

/// Parses `Retry-After`: delay-seconds or an HTTP-date (RFC 9110 §10.2.3), relative to `now`.
pub(crate) fn retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

/// What a Zalo ZNS error code means (docs/delivery.md#classification).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ZaloClass {
    Transient,
    /// The provider is throttling us.
    SlowDown,
    Permanent,
    /// No Zalo account, app too old, opted out: use the fallback channel.
    NoAccount,
    /// Quota exhausted: pause until midnight in Vietnam.
    PauseUntilTomorrow,
    /// The OA, app or billing account is broken: pause until a human acts.
    PauseForHuman,
    /// The access token is invalid or expired: refresh it and try once more.
    RefreshToken,
    /// Template may not be sent at night: retry at 07:00 in Vietnam.
    NotAtNight,
}

pub(crate) fn zalo_class(code: i64) -> ZaloClass {
    use ZaloClass::*;
    match code {
        -100 => Transient,
        -32 => SlowDown,
        -110 | -114 | -118 | -119 | -139 | -141 => NoAccount,
        -115 | -144 | -147 => PauseUntilTomorrow,
        -105..=-101 | -135 | -1351 | -136 | -137 => PauseForHuman,
        -124 => RefreshToken,
        -133 => NotAtNight,
        // Bad phone, payload or template: this message will never pass as it is.
        -109..=-106 | -113..=-111 | -116 | -117 | -125 | -126 | -127 | -131 | -132 | -146 => {
            Permanent
        }
        -1124..=-1121 => Permanent,
        // Unknown codes: Zalo did not send the message, so a bounded retry is safe.
        _ => Transient,
    }
}

/// Turns a Zalo error code into the error for the dispatcher, at `now`.
pub(crate) fn zalo(code: i64, message: &str, now: DateTime<Utc>) -> ChannelError {
    let c = Some(code.to_string());
    let text = format!("Zalo error {code}: {message}");
    match zalo_class(code) {
        ZaloClass::Transient | ZaloClass::RefreshToken => ChannelError::Transient {
            message: text,
            code: c,
            retry_after: None,
            slow_down: false,
        },
        ZaloClass::SlowDown => ChannelError::Transient {
            message: text,
            code: c,
            retry_after: None,
            slow_down: true,
        },
        ZaloClass::NotAtNight => ChannelError::Transient {
            message: text,
            code: c,
            retry_after: Some(until_vn(
                now,
                NaiveTime::from_hms_opt(7, 0, 0).expect("07:00"),
            )),
            slow_down: false,
        },
        ZaloClass::Permanent => ChannelError::Permanent {
            message: text,
            code: c,
            no_account: false,
        },
        ZaloClass::NoAccount => ChannelError::Permanent {
            message: text,
            code: c,
            no_account: true,
        },
        ZaloClass::PauseUntilTomorrow => ChannelError::Paused {
            message: text,
            code: c,
            until: Some(next_vn_time(now, NaiveTime::MIN)),
        },
        ZaloClass::PauseForHuman => ChannelError::Paused {
            message: text,
            code: c,
            until: None,
        },
    }
}

/// The next instant after `now` at which the wall clock in Vietnam shows `at`.
pub(crate) fn next_vn_time(now: DateTime<Utc>, at: NaiveTime) -> DateTime<Utc> {
    let local = now.with_timezone(&Ho_Chi_Minh);
    let mut day = local.date_naive();
    loop {
        // Vietnam has no daylight saving: every local time exists exactly once.
        let candidate = Ho_Chi_Minh
            .from_local_datetime(&day.and_time(at))
            .single()
            .expect("Asia/Ho_Chi_Minh has no DST")
            .with_timezone(&Utc);
        if candidate > now {
            return candidate;
        }
        day = day.checked_add_days(Days::new(1)).expect("date in range");
    }
}

fn until_vn(now: DateTime<Utc>, at: NaiveTime) -> Duration {
    (next_vn_time(now, at) - now)
        .to_std()
        .unwrap_or(Duration::ZERO)
}

/// A short label for an error's class, for the classification tables in tests.
#[cfg(test)]
pub(crate) fn kind(e: &ChannelError) -> &'static str {
    match e {
        ChannelError::Transient {
            slow_down: true, ..
        } => "slow_down",
        ChannelError::Transient { .. } => "transient",
        ChannelError::Permanent {
            no_account: true, ..
        } => "no_account",
        ChannelError::Permanent { .. } => "permanent",
        ChannelError::Paused { .. } => "paused",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(code: u16) -> SmtpFailure {
        SmtpFailure::Reply {
            code,
            text: format!("{code} test"),
        }
    }

    /// R11 (docs/reliability.md#r11), as a pure table; `smtp::tests` runs the same rows through
    /// real lettre errors.
    #[test]
    fn r11_smtp_replies_are_classified_by_the_table() {
        let rows: Vec<(SmtpFailure, &str)> = vec![
            (reply(421), "slow_down"),
            (reply(450), "transient"),
            (reply(451), "transient"),
            (reply(452), "transient"),
            (reply(454), "slow_down"),
            (
                SmtpFailure::Connect("connection refused".into()),
                "transient",
            ),
            (SmtpFailure::Timeout, "transient"),
            (SmtpFailure::Tls("handshake failure".into()), "transient"),
            (SmtpFailure::Network("reset".into()), "transient"),
            (reply(550), "permanent"),
            (reply(551), "permanent"),
            (reply(553), "permanent"),
            (reply(554), "permanent"),
            (reply(535), "paused"),
        ];
        let failed: Vec<String> = rows
            .iter()
            .filter(|(f, want)| kind(&smtp(f, false)) != *want)
            .map(|(f, want)| format!("{f:?}: want {want}, got {}", kind(&smtp(f, false))))
            .collect();
        assert!(failed.is_empty(), "{failed:#?}");
        assert_eq!(smtp(&reply(550), false).code(), Some("550"));
    }

    #[test]
    fn http_statuses_are_classified() {
        for (status, want) in [
            (408, "transient"),
            (429, "slow_down"),
            (500, "transient"),
            (502, "transient"),
            (503, "transient"),
            (504, "transient"),
            (302, "permanent"),
            (400, "permanent"),
            (401, "permanent"),
            (404, "permanent"),
            (410, "permanent"),
            (422, "permanent"),
        ] {
            assert_eq!(kind(&http_status(status, None, "")), want, "{status}");
        }
    }

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000);
        assert_eq!(retry_after("3", now), Some(Duration::from_secs(3)));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(5));
        assert_eq!(retry_after(&later, now), Some(Duration::from_secs(5)));
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(5));
        assert_eq!(retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(retry_after("soon", now), None);
    }

    #[test]
    fn zalo_codes_are_classified_by_the_table() {
        for (code, want) in [
            (-100, "transient"),
            (-108, "permanent"),
            (-111, "permanent"),
            (-112, "permanent"),
            (-1121, "permanent"),
            (-1122, "permanent"),
            (-1124, "permanent"),
            (-131, "permanent"),
            (-110, "no_account"),
            (-114, "no_account"),
            (-118, "no_account"),
            (-119, "no_account"),
            (-139, "no_account"),
            (-141, "no_account"),
            (-115, "paused"),
            (-144, "paused"),
            (-147, "paused"),
            (-101, "paused"),
            (-136, "paused"),
            (-133, "transient"),
            (-32, "slow_down"),
            (-99999, "transient"),
        ] {
            assert_eq!(kind(&zalo(code, "x", Utc::now())), want, "{code}");
        }
    }

    #[test]
    fn zalo_quota_pauses_until_midnight_in_vietnam() {
        // 2026-09-07 15:30 in Vietnam = 08:30 UTC.
        let now = Utc.with_ymd_and_hms(2026, 9, 7, 8, 30, 0).unwrap();
        let ChannelError::Paused { until, .. } = zalo(-115, "Out of quota", now) else {
            panic!("not paused")
        };
        assert_eq!(
            until,
            Some(Utc.with_ymd_and_hms(2026, 9, 7, 17, 0, 0).unwrap())
        );
    }

    #[test]
    fn zalo_night_refusal_waits_until_seven_in_vietnam() {
        // 23:00 in Vietnam = 16:00 UTC; 07:00 next day in Vietnam = 00:00 UTC.
        let now = Utc.with_ymd_and_hms(2026, 9, 7, 16, 0, 0).unwrap();
        let ChannelError::Transient { retry_after, .. } = zalo(-133, "night", now) else {
            panic!("not transient")
        };
        assert_eq!(retry_after, Some(Duration::from_secs(8 * 3600)));
    }
}

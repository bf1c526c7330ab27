//! The validated campaign: what the rest of loa works with.
//!
//! Every value here has been checked: dates parse, references resolve, cron expressions
//! compile, secrets came from the environment. Secrets are wrapped in [`Secret`] so that no
//! `Debug` or log line can print them (docs/reliability.md#r22).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use chrono::DateTime;
use chrono_tz::Tz;
use indexmap::IndexMap;

use crate::audience::ColumnType;
pub use crate::channel_kind::ChannelKind;
use crate::schedule::{Calendar, DateRange, StepSchedule};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Draft,
    Active,
    Paused,
    Done,
}

impl Status {
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "draft" => Some(Self::Draft),
            "active" => Some(Self::Active),
            "paused" => Some(Self::Paused),
            "done" => Some(Self::Done),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Draft => "draft",
            Self::Active => "active",
            Self::Paused => "paused",
            Self::Done => "done",
        }
    }
}

/// A campaign file that passed validation.
#[derive(Debug, Clone)]
pub struct Campaign {
    pub id: String,
    pub title: String,
    pub status: Status,
    /// The YAML file it came from.
    pub file: PathBuf,
    pub calendar: Calendar,
    pub windows: IndexMap<String, DateRange>,
    pub audiences: IndexMap<String, Audience>,
    pub channels: IndexMap<String, Channel>,
    pub messages: IndexMap<String, Vec<String>>,
    pub steps: Vec<Step>,
    /// `approval: { second_above: N }`: a step reaching more than N recipients needs a
    /// second approver (docs/approval.md).
    pub second_approver_above: Option<u64>,
}

impl Campaign {
    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id == id)
    }

    /// The channels a step may use: its own, then its fallback.
    pub fn channels_of<'a>(&'a self, step: &'a Step) -> impl Iterator<Item = &'a Channel> + 'a {
        step.channels
            .iter()
            .chain(&step.fallback)
            .filter_map(|c| self.channels.get(c))
    }

    /// When `step` sends: the instants of its kept occurrences in order, once quiet hours,
    /// skip dates, windows and `max` have moved or dropped the times its `send` names (the
    /// times `loa plan` lists). The crate itself asks the schedule module, which also says
    /// what was dropped and why; this is the way in for the benchmarks (benches/).
    pub fn send_times(&self, step: &Step) -> anyhow::Result<Vec<DateTime<Tz>>> {
        let occ = crate::schedule::occurrences(&self.calendar, &step.schedule)
            .with_context(|| format!("step {}", step.id))?;
        Ok(occ.kept.into_iter().map(|o| o.at).collect())
    }
}

/// A data source: a CSV file keyed by one column, possibly joined to other audiences.
#[derive(Debug, Clone)]
pub struct Audience {
    pub name: String,
    pub source: PathBuf,
    pub key: String,
    /// `alias -> audience name`; a row's column named like the joined audience's key
    /// selects the joined row, visible to templates as `alias.*`.
    pub joins: IndexMap<String, String>,
    pub columns: HashMap<String, ColumnType>,
}

/// A text that must never be printed: tokens, passwords, HMAC keys.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn new(s: impl Into<String>) -> Self {
        Self(s.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// Messages per second, from `rate: 20/s` (also `/m`, `/h`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Rate {
    pub per_second: f64,
}

#[derive(Debug, Clone)]
pub struct Channel {
    pub name: String,
    pub kind: ChannelKind,
    /// SMTP URL (may hold a password) or webhook URL.
    pub url: Option<Secret>,
    pub from: Option<String>,
    pub access_token: Option<Secret>,
    pub refresh_token: Option<Secret>,
    pub app_id: Option<String>,
    pub app_secret: Option<Secret>,
    /// Overrides the provider's API base URL (Zalo relays, tests).
    pub endpoint: Option<String>,
    pub method: String,
    /// Template that shapes a webhook's request body.
    pub body: Option<String>,
    pub headers: IndexMap<String, Secret>,
    pub secret: Option<Secret>,
    pub rate: Option<Rate>,
    pub recipient_field: String,
    pub timeout: Duration,
    /// Messages in flight at once: open connections of an smtp channel, requests waiting
    /// for an answer on the others (`concurrency:`, else [`default_concurrency`]).
    pub concurrency: usize,
    /// How an smtp channel signs its mail.
    pub dkim: Option<Dkim>,
}

/// The most messages in flight `concurrency:` may ask for. Each holds a socket and a lease
/// that a crash may send twice (docs/reliability.md#rule-3); above this, a few busy channels
/// would use up the usual open-file limit of 1,024 before any provider would take that many
/// requests from one client.
pub const MAX_CONCURRENCY: usize = 256;

/// Messages in flight on a channel that sets no `concurrency:` (measured in
/// docs/delivery.md#concurrency). SMTP relays limit the connections of one client, so an
/// smtp channel opens a few; an HTTP request mostly waits on the network, so webhook and
/// Zalo channels keep more of them going. `rate:` stays the brake a provider asks for.
pub fn default_concurrency(kind: ChannelKind) -> usize {
    match kind {
        ChannelKind::Smtp => 8,
        ChannelKind::ZaloZns | ChannelKind::Webhook => 64,
    }
}

/// A DKIM signing key and where its public half is published: `{selector}._domainkey.{domain}`.
#[derive(Debug, Clone)]
pub struct Dkim {
    pub domain: String,
    pub selector: String,
    /// PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`) for rsa, the base64 of the 32-byte
    /// seed for ed25519.
    pub key: Secret,
    pub algorithm: DkimAlgorithm,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DkimAlgorithm {
    /// `rsa-sha256`: what every receiver verifies.
    Rsa,
    /// `ed25519-sha256` (RFC 8463): small and fast, not verified by every receiver.
    Ed25519,
}

#[derive(Debug, Clone)]
pub struct Step {
    pub id: String,
    /// `title:`, what staff read in place of the id; at most [`MAX_STEP_TITLE`] characters.
    pub title: Option<String>,
    pub audience: String,
    /// A Tera expression, registered with the renderer as [`Step::condition_id`].
    pub condition: Option<String>,
    pub channels: Vec<String>,
    pub fallback: Option<String>,
    pub template: String,
    /// Overrides the channel's recipient column.
    pub to: Option<String>,
    pub schedule: StepSchedule,
    /// `within:` window name, or None for the whole period.
    pub within: Option<String>,
    /// The `send:` settings as written, for `step.*` in templates and for tables.
    pub send_text: String,
}

/// The longest `title:` of a step, in characters: a line of a table or a calendar entry.
pub(crate) const MAX_STEP_TITLE: usize = 120;

impl Step {
    /// The title when the step has one, else its id: the name staff read.
    pub fn name(&self) -> &str {
        self.title.as_deref().unwrap_or(&self.id)
    }

    /// The renderer id of this step's `where` expression.
    pub fn condition_id(&self, campaign: &str) -> String {
        format!("{campaign}/{}/where", self.id)
    }

    /// The column that holds the address for `channel`.
    pub fn recipient_field<'a>(&'a self, channel: &'a Channel) -> &'a str {
        self.to.as_deref().unwrap_or(&channel.recipient_field)
    }
}

//! The campaign file as written (docs/campaign-file.md): plain serde types, no checks.
//!
//! Almost every field is optional or a string here, on purpose: a missing field or a bad date
//! becomes a diagnostic with its line from `validate`, instead of serde stopping at the first
//! one. Unknown fields are collected by `serde_ignored` in `load` for the same reason.

use indexmap::IndexMap;
use serde::Deserialize;

#[derive(Debug, Default, Deserialize)]
pub(crate) struct CampaignSpec {
    pub campaign: Option<String>,
    pub title: Option<String>,
    pub status: Option<String>,
    pub timezone: Option<String>,
    pub period: Option<RangeSpec>,
    pub quiet_hours: Option<QuietSpec>,
    #[serde(default)]
    pub skip_dates: Vec<String>,
    #[serde(default)]
    pub windows: IndexMap<String, RangeSpec>,
    #[serde(default)]
    pub audiences: IndexMap<String, AudienceSpec>,
    #[serde(default)]
    pub channels: IndexMap<String, ChannelSpec>,
    #[serde(default)]
    pub messages: IndexMap<String, Vec<String>>,
    #[serde(default)]
    pub steps: Vec<StepSpec>,
    /// Four-eyes approval rules (docs/approval.md).
    pub approval: Option<ApprovalSpec>,
}

/// `approval:`: when a version needs a second approver.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ApprovalSpec {
    /// A step reaching more than this many recipients needs a second, different approver.
    pub second_above: Option<Number>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct RangeSpec {
    pub start: Option<String>,
    pub end: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct QuietSpec {
    pub from: Option<String>,
    pub to: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct AudienceSpec {
    pub source: Option<String>,
    pub key: Option<String>,
    #[serde(default)]
    pub join: IndexMap<String, String>,
    /// Optional declared column types: `text`, `integer`, `decimal`, `bool`, `date`, `phone`, `email`.
    #[serde(default)]
    pub columns: IndexMap<String, String>,
}

/// One channel; which fields are allowed depends on `type` and is checked in `validate`.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct ChannelSpec {
    #[serde(rename = "type")]
    pub kind: Option<String>,
    pub url: Option<String>,
    pub from: Option<String>,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub app_id: Option<String>,
    pub app_secret: Option<String>,
    pub endpoint: Option<String>,
    pub method: Option<String>,
    pub body: Option<String>,
    #[serde(default)]
    pub headers: IndexMap<String, String>,
    pub secret: Option<String>,
    pub rate: Option<String>,
    /// The data column holding the address (default `email` for smtp, `phone` otherwise).
    pub to: Option<String>,
    pub timeout: Option<String>,
    /// Messages in flight at once (connections for smtp, requests for the others).
    pub concurrency: Option<Number>,
    pub dkim: Option<DkimSpec>,
}

/// A number as written; anything else is kept as text so that `validate` can say what is
/// wrong with it, at its line, instead of serde stopping the whole file.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Number {
    Integer(i64),
    Decimal(f64),
    Text(String),
}

/// `dkim:` of an smtp channel: how its mail is signed.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct DkimSpec {
    pub domain: Option<String>,
    pub selector: Option<String>,
    /// The private key, from the environment.
    pub key: Option<String>,
    /// `rsa` (default) or `ed25519`.
    pub algorithm: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct StepSpec {
    pub id: Option<String>,
    /// What staff read in place of the id (`plan`, the calendar, the dashboard).
    pub title: Option<String>,
    pub audience: Option<String>,
    #[serde(rename = "where")]
    pub condition: Option<String>,
    pub channel: Option<OneOrMany>,
    pub fallback: Option<String>,
    pub template: Option<String>,
    pub to: Option<String>,
    pub send: Option<SendSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub(crate) enum OneOrMany {
    One(String),
    Many(Vec<String>),
}

#[derive(Debug, Default, Deserialize)]
pub(crate) struct SendSpec {
    pub at: Option<String>,
    pub cron: Option<String>,
    pub within: Option<String>,
    pub max: Option<u32>,
}

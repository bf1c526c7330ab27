//! What templates and `where` expressions see (docs/templates.md#context).
//!
//! `row`, the joined rows under their aliases, `campaign`, `step`, `occurrence`, `slogan` and
//! `messages`. Webhook body templates also see `address`, `message_id`, `subject` and `text`.

use chrono::DateTime;
use chrono_tz::Tz;
use serde_json::{Map, Value, json};

use super::model::{Campaign, Step};
use crate::audience::recipients::Recipient;

/// Names every template may use, besides the step audience's joins.
pub(crate) const COMMON_NAMES: [&str; 6] = [
    "row",
    "campaign",
    "step",
    "occurrence",
    "slogan",
    "messages",
];
/// Extra names a webhook body template sees.
pub(crate) const BODY_NAMES: [&str; 4] = ["address", "message_id", "subject", "text"];
/// Fields of `campaign`, `step` and `occurrence`, for the template lint.
pub(crate) const CAMPAIGN_FIELDS: [&str; 5] = ["id", "title", "period", "windows", "status"];
pub(crate) const STEP_FIELDS: [&str; 7] = [
    "id", "audience", "channel", "channels", "template", "send", "within",
];
pub(crate) const OCCURRENCE_FIELDS: [&str; 2] = ["at", "n"];

/// The parts of the context that are the same for every recipient of one occurrence.
#[derive(Debug, Clone)]
pub(crate) struct Shared {
    base: Map<String, Value>,
}

impl Shared {
    pub(crate) fn new(
        campaign: &Campaign,
        step: &Step,
        channel: &str,
        at: DateTime<Tz>,
        n: u32,
    ) -> Self {
        let slogans = campaign.messages.get("slogans").filter(|s| !s.is_empty());
        let slogan = slogans
            .map(|s| s[(n.max(1) as usize - 1) % s.len()].clone())
            .unwrap_or_default();
        let windows: Map<String, Value> = campaign
            .windows
            .iter()
            .map(|(k, w)| {
                (
                    k.clone(),
                    json!({"start": w.start.to_string(), "end": w.end.to_string()}),
                )
            })
            .collect();
        let mut base = Map::new();
        base.insert(
            "campaign".into(),
            json!({
                "id": campaign.id, "title": campaign.title, "status": campaign.status.as_str(),
                "period": {"start": campaign.calendar.period.start.to_string(), "end": campaign.calendar.period.end.to_string()},
                "windows": windows,
            }),
        );
        base.insert(
            "step".into(),
            json!({
                "id": step.id, "audience": step.audience, "channel": channel, "channels": step.channels,
                "template": step.template, "send": step.send_text, "within": step.within,
            }),
        );
        base.insert("occurrence".into(), json!({"at": at.to_rfc3339(), "n": n}));
        base.insert("slogan".into(), Value::String(slogan));
        base.insert(
            "messages".into(),
            serde_json::to_value(&campaign.messages).unwrap_or(Value::Null),
        );
        Self { base }
    }

    /// The context a step's `where` sees for the occurrence (`at`, `n`): `step.channel` is the
    /// step's first channel, as the condition is evaluated once per recipient, not per
    /// channel. `plan` and the enqueue both build it here, so that they select alike.
    pub(crate) fn for_where(campaign: &Campaign, step: &Step, at: DateTime<Tz>, n: u32) -> Self {
        Self::new(campaign, step, &step.channels[0], at, n)
    }

    /// What of this context the names in `names` read, besides the recipient's rows: two
    /// occurrences with the same key select the same recipients.
    pub(crate) fn condition_key(&self, names: &[String]) -> String {
        let read: Map<String, Value> = names
            .iter()
            .filter_map(|name| Some((name.clone(), self.base.get(name)?.clone())))
            .collect();
        Value::Object(read).to_string()
    }

    /// Only the names in `names` (those a `where` reads): evaluating a condition over a
    /// large audience should not copy the whole campaign into every row's context.
    pub(crate) fn for_condition(&self, r: &Recipient, names: &[String]) -> tera::Context {
        let mut map = Map::new();
        for name in names {
            if name == "row" {
                map.insert("row".into(), Value::Object(r.row.clone()));
            } else if let Some((_, row)) = r.joined.iter().find(|(a, _)| a == name) {
                map.insert(name.clone(), Value::Object(row.clone()));
            } else if let Some(v) = self.base.get(name) {
                map.insert(name.clone(), v.clone());
            }
        }
        tera::Context::from_value(Value::Object(map)).unwrap_or_default()
    }

    /// The full context for one recipient.
    pub(crate) fn for_recipient(&self, r: &Recipient) -> tera::Context {
        let mut map = self.base.clone();
        map.insert("row".into(), Value::Object(r.row.clone()));
        for (alias, row) in &r.joined {
            map.insert(alias.clone(), Value::Object(row.clone()));
        }
        tera::Context::from_value(Value::Object(map)).unwrap_or_default()
    }
}

/// The recipient's data as stored with each message: `row` and the joined rows. Messages are
/// rendered at send time from this snapshot, with the templates as they are then.
pub(crate) fn snapshot(r: &Recipient) -> String {
    // Written straight from the borrowed rows: one copy fewer per recipient of an enqueue.
    struct Snapshot<'a>(&'a Recipient);
    impl serde::Serialize for Snapshot<'_> {
        fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
            use serde::ser::SerializeMap;
            let mut map = s.serialize_map(Some(1 + self.0.joined.len()))?;
            map.serialize_entry("row", &self.0.row)?;
            for (alias, row) in &self.0.joined {
                map.serialize_entry(alias, row)?;
            }
            map.end()
        }
    }
    // Maps of JSON values with string keys always serialise.
    serde_json::to_string(&Snapshot(r)).unwrap_or_default()
}

impl Shared {
    /// The full context for a stored [`snapshot`].
    pub(crate) fn for_snapshot(&self, snapshot: &str) -> Result<tera::Context, serde_json::Error> {
        let mut map = self.base.clone();
        if let Value::Object(data) = serde_json::from_str::<Value>(snapshot)? {
            map.extend(data);
        }
        Ok(tera::Context::from_value(Value::Object(map)).unwrap_or_default())
    }
}

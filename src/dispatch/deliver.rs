//! Sending one claimed message: the checks at send time (window, quiet hours, the step
//! still there), rendering, the channel's rate limit, the send itself, and what an error
//! means (retry when, back the channel off, fall back to another channel).
//!
//! Both ways of dispatching use it: [`super::Dispatcher::run_once`] (one batch, for
//! `simulate` and tests) and the daemon's continuous [`super::pump`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Instant;

use chrono::{DateTime, TimeZone, Utc};

use super::{ContextKey, Dispatcher, Slot, failpoint};
use crate::campaign::context::Shared;
use crate::campaign::select::address_in_row;
use crate::campaign::{Campaign, Step};
use crate::channel::{ChannelError, Outgoing};
use crate::render::message::{Target, render};
use crate::store::{Claimed, Millis, NewMessage, NewState, Outcome, OutcomeKind, message_tag};

/// A message that passed the checks at send time, rendered and ready for its channel.
struct Ready<'a> {
    slot: &'a Slot,
    campaign: &'a Campaign,
    out: Outgoing,
}

impl Dispatcher {
    /// Sends one claimed message; returns its outcome and, when that ends the message
    /// `failed` on one of the step's channels, the row the step's fallback channel would
    /// get: the ledger inserts it only if no step channel reached the recipient
    /// ([`crate::store::Store::record_with_fallbacks`]). The caller has taken the channel's
    /// send turn (one of its `concurrency`) and rate-limit token.
    pub(super) async fn deliver(
        &self,
        m: Claimed,
        now: DateTime<Utc>,
        contexts: &HashMap<ContextKey, Shared>,
        suppressed: bool,
    ) -> (Outcome, Option<NewMessage>) {
        let started = Instant::now();
        let now_ms = now.timestamp_millis();
        let checked = if suppressed {
            // Opted out (an unsubscribe link) since it was enqueued: `skipped`
            // (docs/delivery.md#states).
            Err(OutcomeKind::Skipped {
                reason: "suppressed: the recipient unsubscribed".into(),
            })
        } else {
            self.prepare(&m, now, contexts).await
        };
        let result = match checked {
            Ok(ready) => self.attempt(&m, ready, now_ms, started).await,
            Err(result) => result,
        };
        let fallback = match &result {
            OutcomeKind::Failed { .. } => self.fallback_row(&m, now_ms),
            _ => None,
        };
        let outcome = Outcome {
            id: m.id,
            attempt: m.attempt,
            owner: self.settings.owner.clone(),
            started_at: now_ms,
            duration_ms: started.elapsed().as_millis() as i64,
            result,
        };
        (outcome, fallback)
    }

    /// The checks at send time; `Err` is the outcome of a message that is not sent now.
    async fn prepare<'a>(
        &'a self,
        m: &Claimed,
        now: DateTime<Utc>,
        contexts: &HashMap<ContextKey, Shared>,
    ) -> Result<Ready<'a>, OutcomeKind> {
        let failed = |error: String| OutcomeKind::Failed { code: None, error };
        if m.expires_at <= now.timestamp_millis() {
            return Err(OutcomeKind::Expired);
        }
        let (campaign, step) = self
            .ws
            .campaign(&m.campaign)
            .and_then(|c| c.step(&m.step).map(|s| (c, s)))
            .ok_or_else(|| failed("the step is no longer in the campaign".into()))?;
        let local = now.with_timezone(&campaign.calendar.tz);
        let allowed = crate::schedule::next_allowed(&campaign.calendar, local);
        if allowed > local {
            return Err(OutcomeKind::Retry {
                at: allowed.timestamp_millis(),
                code: None,
                error: "waiting for the end of quiet hours or a skip date".into(),
            });
        }
        let slot = self
            .slots
            .get(&(m.campaign.clone(), m.channel.clone()))
            .ok_or_else(|| failed(format!("no channel {}", m.channel)))?;
        let key = (
            m.campaign.clone(),
            m.step.clone(),
            m.channel.clone(),
            m.occurrence_n,
        );
        let shared = contexts
            .get(&key)
            .ok_or_else(|| failed("the occurrence time is not valid".into()))?;
        let out = self
            .outgoing(m, campaign, step, shared)
            .await
            .map_err(failed)?;
        Ok(Ready {
            slot,
            campaign,
            out,
        })
    }

    /// Sends and classifies the answer.
    async fn attempt(
        &self,
        m: &Claimed,
        ready: Ready<'_>,
        now_ms: Millis,
        started: Instant,
    ) -> OutcomeKind {
        let Ready {
            slot,
            campaign,
            out,
        } = ready;
        match slot.channel.send(&out).await {
            Ok(r) => {
                failpoint::hit(failpoint::Point::AfterSend);
                OutcomeKind::Sent {
                    provider_id: r.provider_id,
                }
            }
            Err(e) => {
                // Backoff and `Retry-After` count from the answer (RFC 9110 §10.2.3), not
                // from the claim: a send can wait for its turn long after the claim.
                let failed_at = now_ms + started.elapsed().as_millis() as i64;
                self.on_error(e, m, slot, campaign, failed_at).await
            }
        }
    }

    /// The message as its channel sends it. Rendering runs on the blocking pool under the
    /// render limits ([`crate::render::off_thread`]): a template that crosses one fails
    /// this message for good with the reason, and never holds the async workers.
    async fn outgoing(
        &self,
        m: &Claimed,
        campaign: &Campaign,
        step: &Step,
        shared: &Shared,
    ) -> Result<Outgoing, String> {
        let ch = campaign.channels.get(&m.channel).ok_or("unknown channel")?;
        let mut ctx = shared
            .for_snapshot(&m.context)
            .map_err(|e| format!("stored data unreadable: {e}"))?;
        let address = m.address.clone().unwrap_or_default();
        let (ws, kind, body) = (Arc::clone(&self.ws), ch.kind, ch.body.clone());
        let (template, to, message_id, id) = (
            step.template.clone(),
            address.clone(),
            m.message_id.clone(),
            campaign.id.clone(),
        );
        let rendered = crate::render::off_thread(move || {
            let target = Target {
                kind,
                template: &template,
                body_template: body.as_deref(),
                address: &to,
                message_id: &message_id,
            };
            render(ws.renderer_of(&id), &target, &mut ctx)
        })
        .await
        .map_err(|e| format!("template error: {e}"))?;
        // RFC 8058 one-click links, signed so that nobody can unsubscribe someone else.
        let unsubscribe_url = self.settings.unsubscribe_key.as_ref().map(|key| {
            let token = crate::links::unsubscribe_token(key.expose().as_bytes(), &m.message_id);
            let base = self.settings.public_url.trim_end_matches('/');
            format!("{base}/unsubscribe/{token}")
        });
        Ok(Outgoing {
            message_id: m.message_id.clone(),
            campaign: m.campaign.clone(),
            step: m.step.clone(),
            channel: m.channel.clone(),
            address,
            attempt: m.attempt,
            rendered,
            unsubscribe_url,
        })
    }

    async fn on_error(
        &self,
        e: ChannelError,
        m: &Claimed,
        slot: &Slot,
        campaign: &Campaign,
        now: Millis,
    ) -> OutcomeKind {
        match &e {
            ChannelError::Transient {
                slow_down: true, ..
            } => {
                if let Some(b) = &slot.bucket {
                    b.slow_down().await;
                }
            }
            ChannelError::Paused { until, .. } => {
                let until = until
                    .map(|t| t.timestamp_millis())
                    .unwrap_or(now + self.settings.retry.cap.as_millis() as i64);
                *slot.backoff_until.lock().await = Some(until);
            }
            _ => {}
        }
        let u: f64 = rand_unit(m.id, m.attempt);
        let mut result = self.settings.retry.outcome(&e, m.attempt, now, u);
        if let OutcomeKind::Retry { at, .. } = &mut result {
            let local = campaign.calendar.tz.timestamp_millis_opt(*at).single();
            if let Some(l) = local {
                *at = crate::schedule::next_allowed(&campaign.calendar, l).timestamp_millis();
            }
        }
        result
    }

    /// The row of the step's fallback channel for `m`'s recipient, if the step has a
    /// fallback and `m` is on one of the step's own channels.
    fn fallback_row(&self, m: &Claimed, now: Millis) -> Option<NewMessage> {
        let campaign = self.ws.campaign(&m.campaign)?;
        let step = campaign.step(&m.step)?;
        let fallback = step.fallback.as_deref()?;
        if m.fallback_of.is_some() || fallback == m.channel {
            return None;
        }
        let ch = campaign.channels.get(fallback)?;
        // The stored row is the one read at enqueue: the same rule decides its address.
        let data: serde_json::Value = serde_json::from_str(&m.context).ok()?;
        let row = data.get("row").and_then(|r| r.as_object());
        let (address, state) = match row.map(|row| address_in_row(step, ch, row)) {
            Some(Ok(a)) => (Some(a), NewState::Pending),
            Some(Err(reason)) => (None, fallback_skipped(&reason)),
            None => (
                None,
                fallback_skipped(&format!("no {}", step.recipient_field(ch))),
            ),
        };
        Some(NewMessage {
            tag: message_tag(&m.campaign, &m.step, m.occurrence_n, &m.recipient, fallback),
            campaign: m.campaign.clone(),
            step: m.step.clone(),
            occurrence_id: m.occurrence_id,
            occurrence_at: m.occurrence_at,
            occurrence_n: m.occurrence_n,
            recipient: m.recipient.clone(),
            channel: fallback.to_string(),
            fallback_of: Some(m.id),
            address,
            state,
            next_attempt_at: now,
            expires_at: m.expires_at,
            context: m.context.clone(),
        })
    }
}

/// A fallback row without an address: skipped, saying it was the fallback's address.
fn fallback_skipped(reason: &str) -> NewState {
    NewState::Skipped {
        reason: format!("{reason} for the fallback"),
    }
}

/// A uniform number in [0, 1) from the message and attempt: jitter without a random source,
/// reproducible in tests, and different for messages that failed together.
fn rand_unit(id: i64, attempt: u32) -> f64 {
    let mut x = (id as u64) ^ ((attempt as u64) << 32) ^ 0x9E37_79B9_7F4A_7C15;
    x ^= x >> 33;
    x = x.wrapping_mul(0xff51_afd7_ed55_8ccd);
    x ^= x >> 33;
    x = x.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    x ^= x >> 33;
    (x >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::campaign::{DataScan, EnvPolicy, LoadOptions, Workspace};
    use crate::dispatch::Settings;
    use crate::dispatch::tokens::DbTokens;
    use crate::store::Store;

    /// A step on Zalo whose fallback is an SMS gateway reading the `sms_phone` column.
    fn workspace(dir: &std::path::Path) -> Workspace {
        for sub in ["campaigns/data", "templates/note", "templates/sms_body"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        let write = |path: &str, text: &str| std::fs::write(dir.join(path), text).unwrap();
        write(
            "campaigns/data/parents.csv",
            "id,phone,sms_phone\nA1,0912000001,0912000001\n",
        );
        write("templates/note/text.tera", "Kính gửi {{ row.id }}");
        write(
            "templates/note/zns.yaml",
            "template_id: \"300003\"\nparams:\n  id: \"{{ row.id }}\"\n",
        );
        write(
            "templates/sms_body/body.tera",
            "{\"to\": {{ address | json_encode() }}}",
        );
        write(
            "campaigns/hcm.yaml",
            "campaign: hcm\ntitle: HCM\nstatus: active\ntimezone: Asia/Ho_Chi_Minh\n\
             period: { start: 2026-09-01, end: 2026-12-31 }\n\
             audiences:\n  parents:\n    source: data/parents.csv\n    key: id\n\
             channels:\n  zalo:\n    type: zalo_zns\n    access_token: \"${ZALO_ACCESS_TOKEN:-}\"\n\
             \x20 sms:\n    type: webhook\n    url: \"http://127.0.0.1:9/sms\"\n    \
             body: sms_body\n    to: sms_phone\n\
             steps:\n  - id: notice\n    audience: parents\n    channel: zalo\n    \
             fallback: sms\n    template: note\n    send: { at: \"2026-09-07 08:00\" }\n",
        );
        let opts = LoadOptions {
            env: EnvPolicy::Optional,
            data: DataScan::Headers,
        };
        let (ws, diags) = Workspace::load(&[dir.join("campaigns")], &dir.join("templates"), opts);
        ws.unwrap_or_else(|| panic!("{:?}", diags.0))
    }

    /// A failed Zalo message of A1 whose stored row holds `sms_phone`.
    fn failed_zalo(sms_phone: Option<&str>) -> Claimed {
        let mut row = serde_json::json!({ "id": "A1", "phone": "84912000001" });
        if let Some(p) = sms_phone {
            row["sms_phone"] = p.into();
        }
        Claimed {
            id: 1,
            message_id: "m1".into(),
            campaign: "hcm".into(),
            step: "notice".into(),
            channel: "zalo".into(),
            recipient: "A1".into(),
            address: Some("84912000001".into()),
            attempt: 1,
            occurrence_at: 0,
            occurrence_n: 1,
            occurrence_id: 1,
            expires_at: Millis::MAX,
            context: serde_json::json!({ "row": row }).to_string(),
            fallback_of: None,
        }
    }

    /// The fallback's address at send time follows the rule enqueue applies: before, the
    /// stored value went out as it was, a landline or a typo included.
    #[tokio::test]
    async fn the_fallback_offered_at_send_time_takes_its_address_by_the_enqueue_rule() {
        let dir = tempfile::tempdir().unwrap();
        let ws = Arc::new(workspace(dir.path()));
        let url = format!("sqlite://{}", dir.path().join("loa.db").display());
        let store = Store::open(&url).await.unwrap();
        let tokens = Arc::new(DbTokens::new(store.clone()));
        let outbox = dir.path().join("outbox");
        let d = Dispatcher::new(store, ws, Some(&outbox), tokens, Settings::default()).unwrap();
        let offer = |phone| d.fallback_row(&failed_zalo(phone), 5).expect("an offer");

        let ok = offer(Some("84912000001"));
        assert_eq!(ok.address.as_deref(), Some("84912000001"));
        assert_eq!(ok.state, NewState::Pending);
        assert_eq!((ok.channel.as_str(), ok.fallback_of), ("sms", Some(1)));

        let none = offer(None);
        assert_eq!(none.address, None);
        let reason = "no sms_phone for the fallback".to_string();
        assert_eq!(none.state, NewState::Skipped { reason });

        let landline = offer(Some("0281234567"));
        assert_eq!(landline.address, None, "a landline is not sent to");
        let NewState::Skipped { reason } = landline.state else {
            panic!("{:?}", landline.state);
        };
        assert!(
            reason.contains("landline") && reason.ends_with("for the fallback"),
            "{reason}"
        );
    }
}

//! Whether a campaign's channel may send now: the one gate both drivers ask, the daemon's
//! [`super::pump`] and [`super::Dispatcher::run_once`] (`simulate`, tests).
//!
//! Users say "paused" for three different things, and the code names them apart:
//!
//! - **campaign status** ([`Held::CampaignStatus`]): the campaign file's `status:`; only
//!   `active` sends (`draft`, `paused` and `done` keep their pending messages). Changed by
//!   editing the file.
//! - **operator hold** ([`Held::OperatorHold`]): a staff member paused the campaign from the
//!   dashboard; kept in the ledger ([`crate::store::Store::held_campaigns`]) until resumed,
//!   across restarts, whatever the file says.
//! - **channel backoff** ([`Held::ChannelBackoff`]): a provider told us to stop sending on one
//!   channel for a while (Zalo out of quota, SMTP authentication refused:
//!   [`crate::channel::ChannelError::Paused`]); it lasts until the time it gave, in memory.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Result;

use super::{Dispatcher, Slot};
use crate::campaign::Status;
use crate::store::Millis;

/// How old the dispatcher's reading of operator holds may be.
const HOLDS_FRESH: Duration = Duration::from_millis(500);

/// Why a channel of a campaign does not send now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Held {
    /// The campaign file's `status:` is not `active` (docs/campaign-file.md#status).
    CampaignStatus(Status),
    /// An operator paused the campaign on the dashboard (the `campaign_pause` table).
    OperatorHold,
    /// The provider paused the channel until this time (UTC milliseconds).
    ChannelBackoff { until: Millis },
}

/// The campaigns under an operator hold, as last read.
pub(super) type Holds = Arc<HashSet<String>>;

/// The cached reading of operator holds: when it was read, and what.
pub(super) type HoldsCache = tokio::sync::Mutex<Option<(tokio::time::Instant, Holds)>>;

impl Dispatcher {
    /// Whether `slot`, a channel of `campaign`, may send at `now`; `holds` is
    /// [`Dispatcher::operator_holds`].
    pub(super) async fn gate(
        &self,
        campaign: &str,
        slot: &Slot,
        holds: &HashSet<String>,
        now: Millis,
    ) -> Result<(), Held> {
        let status = self.ws.campaign(campaign).map(|c| c.status);
        if status != Some(Status::Active) {
            return Err(Held::CampaignStatus(status.unwrap_or(Status::Draft)));
        }
        if holds.contains(campaign) {
            return Err(Held::OperatorHold);
        }
        match *slot.backoff_until.lock().await {
            Some(until) if until > now => Err(Held::ChannelBackoff { until }),
            _ => Ok(()),
        }
    }

    /// The campaigns an operator holds, read again when the last reading is older than
    /// [`HOLDS_FRESH`]: a hold takes effect within that, without a query on every round of
    /// a busy pump.
    pub(super) async fn operator_holds(&self) -> Result<Holds> {
        let mut cached = self.operator_holds.lock().await;
        if let Some((at, set)) = cached.as_ref()
            && at.elapsed() < HOLDS_FRESH
        {
            return Ok(Arc::clone(set));
        }
        let set = Arc::new(self.store.held_campaigns().await?);
        *cached = Some((tokio::time::Instant::now(), Arc::clone(&set)));
        Ok(set)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;
    use std::time::Duration;

    use chrono::{DateTime, TimeZone as _, Utc};

    use crate::campaign::{DataScan, EnvPolicy, LoadOptions, Workspace};
    use crate::dispatch::enqueue::enqueue_due;
    use crate::dispatch::tokens::DbTokens;
    use crate::dispatch::{Dispatcher, Settings};
    use crate::store::Store;

    /// One campaign of two recipients by e-mail, with the given `status:`.
    fn workspace(dir: &Path, status: &str) -> Workspace {
        std::fs::create_dir_all(dir.join("campaigns/data")).unwrap();
        std::fs::create_dir_all(dir.join("templates/note")).unwrap();
        let write = |path: &str, text: &str| std::fs::write(dir.join(path), text).unwrap();
        write(
            "campaigns/data/people.csv",
            "id,email\nr0,r0@example.test\nr1,r1@example.test\n",
        );
        write("templates/note/subject.tera", "BHYT");
        write("templates/note/text.tera", "Kính gửi {{ row.id }}");
        write(
            "campaigns/g.yaml",
            &format!(
                "campaign: g\ntitle: G\nstatus: {status}\ntimezone: Asia/Ho_Chi_Minh\n\
                 period: {{ start: 2026-09-01, end: 2026-12-31 }}\n\
                 audiences:\n  people:\n    source: data/people.csv\n    key: id\n\
                 channels:\n  mail:\n    type: smtp\n    url: \"smtp://127.0.0.1:2525\"\n    \
                 from: \"Loa <loa@example.test>\"\n\
                 steps:\n  - id: s\n    audience: people\n    channel: mail\n    \
                 template: note\n    send: {{ at: \"2026-09-07 08:00\" }}\n"
            ),
        );
        let opts = LoadOptions {
            env: EnvPolicy::Optional,
            data: DataScan::Headers,
        };
        let (ws, diags) = Workspace::load(&[dir.join("campaigns")], &dir.join("templates"), opts);
        ws.unwrap_or_else(|| panic!("{:?}", diags.0))
    }

    /// A dispatcher to the outbox over a ledger with the campaign's two messages due.
    async fn dispatcher(dir: &Path, status: &str) -> (Dispatcher, Store, DateTime<Utc>) {
        let ws = Arc::new(workspace(dir, status));
        let url = format!("sqlite://{}", dir.join("loa.db").display());
        let store = Store::open(&url).await.unwrap();
        crate::dispatch::register::register(&store, &ws)
            .await
            .unwrap();
        let at = Utc.with_ymd_and_hms(2026, 9, 7, 1, 0, 0).unwrap();
        let stats = enqueue_due(&store, &ws, 0, at, None, Duration::MAX);
        assert_eq!(stats.await.unwrap().inserted, 2);
        let tokens = Arc::new(DbTokens::new(store.clone()));
        let outbox = dir.join("outbox");
        let d = Dispatcher::new(
            store.clone(),
            ws,
            Some(&outbox),
            tokens,
            Settings::default(),
        );
        (d.unwrap(), store, at)
    }

    /// `run_once` (simulate, tests) used to send whatever was due; it now asks the gate
    /// the pump asks.
    #[tokio::test]
    async fn run_once_holds_a_campaign_an_operator_paused_until_it_is_resumed() {
        let dir = tempfile::tempdir().unwrap();
        let (d, store, at) = dispatcher(dir.path(), "active").await;
        assert!(store.hold_campaign("g", "admin", 0).await.unwrap());
        assert_eq!(d.run_once(at).await.unwrap().claimed, 0, "held");
        assert!(store.release_campaign("g").await.unwrap());
        // The reading of holds is at most half a second old.
        tokio::time::sleep(Duration::from_millis(600)).await;
        assert_eq!(d.run_once(at).await.unwrap().sent, 2);
    }

    #[tokio::test]
    async fn run_once_sends_nothing_of_a_campaign_whose_file_says_paused() {
        let dir = tempfile::tempdir().unwrap();
        let (d, _store, at) = dispatcher(dir.path(), "paused").await;
        assert_eq!(d.run_once(at).await.unwrap().claimed, 0);
    }
}

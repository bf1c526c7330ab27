//! Four-eyes approval in the daemon (docs/approval.md): which version of each `active`
//! campaign it sends.
//!
//! The daemon loads the files on disk (at start, at every edit). For each `active`
//! campaign it asks the ledger whether that version (its approval hash) is approved. If it
//! is, that version sends, and the daemon keeps it in memory. If not, the campaign is
//! "awaiting approval": the approved version the daemon kept keeps sending, as an invalid
//! edit keeps the last valid version running; with none (never approved, or the files
//! changed while the daemon was down), the campaign is held and sends nothing, which the
//! log says once per version and the dashboard shows. Every poll the daemon looks whether
//! a waiting version was approved meanwhile ([`Approvals::approved_since`]); the dispatcher
//! is then rebuilt on it. Occurrences that fell due meanwhile are enqueued by the usual
//! round: sent when still within the daemon's grace, recorded missed otherwise.
//!
//! A held campaign stays in the workspace the dispatcher sends from with its status
//! `paused`: the gate keeps its pending messages (none renders with unapproved text) and
//! the enqueue round passes it by, while a removal of the campaign still cancels them.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Result;
use tracing::{info, warn};

use crate::campaign::{Campaign, Sending, Status, Workspace, approval_hash};
use crate::store::Store;

/// An approved version this daemon loaded: its hash and the workspace it came in.
struct Approved {
    hash: String,
    ws: Arc<Workspace>,
}

/// The approved versions kept in memory, and what the last workspace made of each campaign.
#[derive(Default)]
pub(crate) struct Approvals {
    approved: HashMap<String, Approved>,
    sending: HashMap<String, Sending>,
}

impl Approvals {
    /// The workspace to send from, made of `loaded` (the files on disk): each `active`
    /// campaign at its approved version on disk, else at the approved version kept in
    /// memory, else held. Logs each campaign whose standing changed.
    pub(crate) async fn sending(
        &mut self,
        store: &Store,
        loaded: &Arc<Workspace>,
    ) -> Result<Arc<Workspace>> {
        let mut campaigns = Vec::with_capacity(loaded.campaigns.len());
        let mut pinned = HashMap::new();
        let mut sending = HashMap::new();
        for c in &loaded.campaigns {
            if c.status != Status::Active {
                campaigns.push(c.clone());
                continue;
            }
            let hash = approval_hash(c, &loaded.templates)?;
            let now = store.version_approval(&c.id, &hash).await?;
            let standing = if now.is_approved() {
                let ws = Arc::clone(loaded);
                let kept = Approved {
                    hash: hash.clone(),
                    ws,
                };
                self.approved.insert(c.id.clone(), kept);
                campaigns.push(c.clone());
                Sending::Approved(hash)
            } else if let Some((old, ws)) = self.kept(&c.id) {
                campaigns.push(old.clone());
                pinned.insert(c.id.clone(), Arc::clone(ws));
                Sending::Older {
                    running: self.approved[&c.id].hash.clone(),
                    waiting: hash,
                }
            } else {
                let mut held = c.clone();
                held.status = Status::Paused;
                campaigns.push(held);
                Sending::Nothing { waiting: hash }
            };
            say(c, &standing, self.sending.get(&c.id));
            sending.insert(c.id.clone(), standing);
        }
        self.sending = sending;
        Ok(Arc::new(Workspace {
            campaigns,
            renderer: loaded.renderer.clone(),
            templates: loaded.templates.clone(),
            pinned,
        }))
    }

    /// The approved version of `id` kept in memory, and the workspace it came in.
    fn kept(&self, id: &str) -> Option<(&Campaign, &Arc<Workspace>)> {
        let a = self.approved.get(id)?;
        Some((a.ws.campaign(id)?, &a.ws))
    }

    /// Whether a version waiting when the workspace was last made has been approved since.
    pub(crate) async fn approved_since(&self, store: &Store) -> Result<bool> {
        for (id, s) in &self.sending {
            let waiting = match s {
                Sending::Approved(_) => continue,
                Sending::Older { waiting, .. } | Sending::Nothing { waiting } => waiting,
            };
            if store.version_approval(id, waiting).await?.is_approved() {
                return Ok(true);
            }
        }
        Ok(false)
    }

    /// What the dashboard shows.
    pub(crate) fn standing(&self) -> HashMap<String, Sending> {
        self.sending.clone()
    }
}

/// One log line when a campaign's standing changed from `before`.
fn say(c: &Campaign, now: &Sending, before: Option<&Sending>) {
    if before == Some(now) {
        return;
    }
    match now {
        Sending::Approved(hash) => {
            info!(campaign = %c.id, version = %hash, "sending the approved version")
        }
        Sending::Older { running, waiting } => warn!(
            campaign = %c.id, version = %waiting, approved = %running,
            "the edited version awaits approval (loa submit / loa approve); the approved version keeps sending"
        ),
        Sending::Nothing { waiting } => warn!(
            campaign = %c.id, version = %waiting,
            "this version awaits approval (loa submit / loa approve) and no approved version is loaded: the campaign sends nothing"
        ),
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use super::Approvals;
    use crate::campaign::{
        DataScan, EnvPolicy, LoadOptions, Sending, Status, Workspace, approval_hash,
    };
    use crate::store::{ApprovalStep, Store};

    fn load(dir: &Path) -> Arc<Workspace> {
        let opts = LoadOptions {
            env: EnvPolicy::Optional,
            data: DataScan::Headers,
        };
        let (ws, diags) = Workspace::load(&[dir.join("campaigns")], &dir.join("templates"), opts);
        Arc::new(ws.unwrap_or_else(|| panic!("{diags}")))
    }

    fn files(dir: &Path) {
        crate::campaign::test_support::three_people_and_a_note(dir);
        let yaml = "campaign: a1\ntitle: A1\nstatus: active\ntimezone: UTC\n\
             period: { start: 2026-09-01, end: 2026-09-30 }\n\
             audiences:\n  people:\n    source: data/people.csv\n    key: id\n\
             channels:\n  mail:\n    type: smtp\n    url: \"smtp://127.0.0.1:2525\"\n    \
             from: \"Loa <loa@example.test>\"\nsteps:\n  - id: s0\n    audience: people\n    \
             channel: mail\n    template: note\n    send: { at: \"2026-09-02 08:00\" }\n";
        std::fs::write(dir.join("campaigns/a1.yaml"), yaml).unwrap();
    }

    async fn approve(store: &Store, hash: &str) {
        let step = |account| ApprovalStep {
            campaign: "a1",
            hash,
            account,
            needed: 1,
        };
        store.request_approval(&step("lan"), 1).await.unwrap();
        store.approve(&step("minh"), 2).await.unwrap();
    }

    #[tokio::test]
    async fn a_campaign_sends_its_approved_version_and_keeps_it_while_an_edit_waits() {
        let dir = tempfile::tempdir().unwrap();
        files(dir.path());
        let url = format!("sqlite://{}", dir.path().join("loa.db").display());
        let store = Store::open(&url).await.unwrap();
        let mut approvals = Approvals::default();

        // Never approved: held, so that nothing is enqueued or sent.
        let v1 = load(dir.path());
        let h1 = approval_hash(&v1.campaigns[0], &v1.templates).unwrap();
        let sending = approvals.sending(&store, &v1).await.unwrap();
        assert_eq!(sending.campaigns[0].status, Status::Paused);
        let waiting = Sending::Nothing {
            waiting: h1.clone(),
        };
        assert_eq!(approvals.standing()["a1"], waiting);

        // Approved: noticed, and sent as loaded.
        approve(&store, &h1).await;
        assert!(approvals.approved_since(&store).await.unwrap());
        let sending = approvals.sending(&store, &v1).await.unwrap();
        assert_eq!(sending.campaigns[0].status, Status::Active);
        assert!(sending.pinned.is_empty());

        // An edited template: the approved version goes on, with its own templates.
        std::fs::write(dir.path().join("templates/note/text.tera"), "Chưa duyệt").unwrap();
        let v2 = load(dir.path());
        let h2 = approval_hash(&v2.campaigns[0], &v2.templates).unwrap();
        let sending = approvals.sending(&store, &v2).await.unwrap();
        assert_eq!(sending.campaigns[0].status, Status::Active);
        assert!(Arc::ptr_eq(&sending.pinned["a1"], &v1));
        let older = Sending::Older {
            running: h1,
            waiting: h2.clone(),
        };
        assert_eq!(approvals.standing()["a1"], older);
        assert!(!approvals.approved_since(&store).await.unwrap());

        // Its approval replaces it.
        approve(&store, &h2).await;
        assert!(approvals.approved_since(&store).await.unwrap());
        let sending = approvals.sending(&store, &v2).await.unwrap();
        assert!(sending.pinned.is_empty());
        assert_eq!(approvals.standing()["a1"], Sending::Approved(h2));
    }
}

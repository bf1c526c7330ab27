//! The workspace a running daemon works with now, shared between the daemon, which
//! replaces it when an edit loads cleanly (hot reload), and the dashboard, which shows it
//! together with the problems of the last edit that was refused.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use super::Workspace;

pub struct Live {
    current: RwLock<Arc<Workspace>>,
    /// The problems of the latest edit, while it is refused; `None` once one loads.
    refused: RwLock<Option<String>>,
    /// What the daemon sends of each `active` campaign under four-eyes approval; `None`
    /// when approval is off for this daemon (docs/approval.md).
    sending: RwLock<Option<HashMap<String, Sending>>>,
}

/// What the daemon sends of an `active` campaign under approval (docs/approval.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Sending {
    /// The version on disk, approved: its approval hash.
    Approved(String),
    /// The version on disk (`waiting`) awaits approval; the approved version `running`
    /// keeps sending.
    Older { running: String, waiting: String },
    /// The version on disk (`waiting`) awaits approval and no approved version was loaded
    /// since the start: the campaign sends nothing.
    Nothing { waiting: String },
}

impl Live {
    pub fn new(ws: Arc<Workspace>) -> Live {
        Live {
            current: RwLock::new(ws),
            refused: RwLock::new(None),
            sending: RwLock::new(None),
        }
    }

    /// What the daemon now sends of each campaign under approval (`None`: approval off).
    pub fn set_sending(&self, sending: Option<HashMap<String, Sending>>) {
        *self.sending.write().unwrap_or_else(|e| e.into_inner()) = sending;
    }

    /// What the daemon sends of `campaign`; `None` when approval is off or the campaign is
    /// not `active`.
    pub fn sending(&self, campaign: &str) -> Option<Sending> {
        let all = self.sending.read().unwrap_or_else(|e| e.into_inner());
        all.as_ref()?.get(campaign).cloned()
    }

    /// Whether this daemon sends only approved versions.
    pub fn approval_on(&self) -> bool {
        self.sending
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .is_some()
    }

    /// The version in force.
    pub fn current(&self) -> Arc<Workspace> {
        Arc::clone(&self.current.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// An edit loaded cleanly: it is the version in force from now on.
    pub fn replace(&self, ws: Arc<Workspace>) {
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = ws;
        *self.refused.write().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// An edit did not load: `problems` say why; the version in force stays.
    pub fn refuse(&self, problems: String) {
        *self.refused.write().unwrap_or_else(|e| e.into_inner()) = Some(problems);
    }

    /// Why the latest edit was refused, if it was.
    pub fn refused(&self) -> Option<String> {
        self.refused
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::Renderer;

    fn workspace(n: usize) -> Arc<Workspace> {
        let renderer = Renderer::empty();
        Arc::new(Workspace {
            campaigns: Vec::with_capacity(n),
            renderer,
            templates: format!("t{n}").into(),
            pinned: Default::default(),
        })
    }

    #[test]
    fn a_refused_edit_keeps_the_version_in_force_until_a_good_one_replaces_it() {
        let live = Live::new(workspace(1));
        live.refuse("rel.yaml:3:1: error: unknown field `titel`".into());
        assert_eq!(live.current().templates, std::path::PathBuf::from("t1"));
        assert!(live.refused().unwrap().contains("titel"));
        live.replace(workspace(2));
        assert_eq!(live.current().templates, std::path::PathBuf::from("t2"));
        assert_eq!(live.refused(), None);
    }
}

//! Hot reload: the daemon notices a changed campaign file, data file or template and
//! carries on with the new version, without a restart.
//!
//! Every poll it takes a fingerprint (path, size, modification time) of the campaign and
//! template folders and of every audience source the loaded campaigns read. When it
//! changes, the workspace is loaded again with the same options as at start. An invalid
//! edit keeps the last good version running and logs every problem, once per edit. A good
//! one replaces it: the daemon stops its dispatcher (the sends in flight finish and are
//! recorded), cancels the pending messages of steps and campaigns that are gone, records
//! the new content hashes, and starts a dispatcher built on the new version. What was
//! already enqueued or sent stays as it is: an occurrence is expanded once, so only later
//! occurrences see a new `where` or template text.

use std::collections::hash_map::DefaultHasher;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Result;
use chrono::Utc;
use tracing::{info, warn};

use crate::campaign::{Diagnostics, Live, Workspace};
use crate::dispatch::Dispatcher;
use crate::store::{MessageState, Store};

/// Loads the workspace again, exactly as `loa run` did at start.
pub(crate) type Loader = Box<dyn Fn() -> (Option<Workspace>, Diagnostics) + Send + Sync>;
/// Builds a dispatcher on a workspace, exactly as `loa run` did at start.
pub(crate) type Builder = Box<dyn Fn(Arc<Workspace>) -> Result<Dispatcher> + Send + Sync>;

/// How the daemon reloads; without one it runs the workspace it started with.
pub(crate) struct Reload {
    pub load: Loader,
    pub build: Builder,
    /// The campaign folders (or files) and the template folder.
    pub watch: Vec<PathBuf>,
    /// Where the version in force, and the problems of a refused edit, are shown (the
    /// dashboard).
    pub live: Arc<Live>,
}

/// What the daemon watches, as one number.
pub(crate) fn fingerprint(watch: &[PathBuf], ws: &Workspace) -> u64 {
    let mut files = Vec::new();
    for path in watch {
        collect(path, &mut files);
    }
    for c in &ws.campaigns {
        for a in c.audiences.values() {
            collect(&a.source, &mut files);
        }
    }
    files.sort();
    files.dedup();
    let mut hash = DefaultHasher::new();
    for f in &files {
        f.hash(&mut hash);
        if let Ok(meta) = std::fs::metadata(f) {
            meta.len().hash(&mut hash);
            meta.modified().ok().hash(&mut hash);
        }
    }
    hash.finish()
}

/// Every file under `path` (or `path` itself).
fn collect(path: &Path, out: &mut Vec<PathBuf>) {
    let Ok(meta) = std::fs::metadata(path) else {
        out.push(path.to_path_buf());
        return;
    };
    if !meta.is_dir() {
        out.push(path.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    for entry in entries.flatten() {
        collect(&entry.path(), out);
    }
}

/// Loads the new version; `None` (with the problems logged and shown on the dashboard)
/// keeps the old one.
pub(crate) fn load(reload: &Reload) -> Option<Workspace> {
    let (ws, diags) = (reload.load)();
    match ws {
        Some(ws) => Some(ws),
        None => {
            let problems = diags.to_string();
            warn!(%problems, "the edited workspace has errors; the last good version keeps running");
            reload.live.refuse(problems);
            None
        }
    }
}

/// Cancels the open messages of every step (or whole campaign) of `old` that `new` no
/// longer has (`cancelled`, docs/delivery.md#states). Returns how many it cancelled.
pub(crate) async fn cancel_removed(store: &Store, old: &Workspace, new: &Workspace) -> Result<u64> {
    let now = Utc::now().timestamp_millis();
    let mut cancelled = 0;
    for c in &old.campaigns {
        let kept = new.campaign(&c.id);
        for step in &c.steps {
            if kept.is_some_and(|k| k.step(&step.id).is_some()) {
                continue;
            }
            let detail = match kept {
                Some(_) => "the step was removed from the campaign",
                None => "the campaign was removed",
            };
            let n = store
                .set_state(
                    &c.id,
                    Some(&step.id),
                    &[MessageState::Pending],
                    MessageState::Cancelled,
                    detail,
                    now,
                )
                .await?;
            if n > 0 {
                info!(campaign = %c.id, step = %step.id, cancelled = n, "{detail}");
            }
            cancelled += n;
        }
    }
    Ok(cancelled)
}

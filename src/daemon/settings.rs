//! [`Settings`]: everything the daemon is told, as one value — where the ledger, the
//! campaigns, the templates and (with `--outbox`) the delivered files are, how the
//! dispatcher and the HTTP side work, and the daemon's own rounds ([`Rounds`]).
//!
//! `loa run` turns its arguments and environment into one of these
//! (`cli::run`); the daemon composes everything else from it ([`super::Daemon`]).

use std::path::PathBuf;
use std::time::Duration;

use crate::dispatch;
use crate::web::WebConfig;

/// How often the daemon looks for new work when idle.
pub(crate) const POLL: Duration = Duration::from_secs(1);

/// Everything one daemon is made from.
#[derive(Debug)]
pub struct Settings {
    /// The ledger, e.g. `sqlite://loa.db`.
    pub database_url: String,
    /// The campaign folder (or file) and the template folder, loaded at start and watched
    /// for edits.
    pub campaigns: PathBuf,
    pub templates: PathBuf,
    /// Deliver to files under this folder instead of the providers (`--outbox`); missing
    /// secrets are then only warnings.
    pub outbox: Option<PathBuf>,
    /// Send only approved versions of `active` campaigns (docs/approval.md); on unless
    /// `loa run --approval off`. Not applied with `outbox`, where nothing leaves the machine.
    pub approval: bool,
    pub rounds: Rounds,
    /// The dispatcher's; the daemon fills in the unsubscribe key and the metrics.
    pub dispatch: dispatch::Settings,
    /// The HTTP side's; the daemon fills in the workspace for the dashboard.
    pub web: WebConfig,
    /// Rows inserted per transaction when an occurrence is enqueued (tuning; unset keeps
    /// the default).
    pub enqueue_batch: Option<usize>,
}

/// The daemon's own rounds: enqueueing what fell due and housekeeping.
#[derive(Debug, Clone, Copy)]
pub struct Rounds {
    /// An occurrence first seen later than this after its time is recorded as missed.
    pub grace: Duration,
    pub poll: Duration,
}

impl Default for Rounds {
    fn default() -> Self {
        Self {
            grace: Duration::from_secs(3600),
            poll: POLL,
        }
    }
}

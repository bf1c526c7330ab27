//! [`Metrics`]: the in-memory counters the dispatcher bumps per try and per rescued lease
//! and the callback routes per refusal or replay; `GET /metrics` (`web::metrics`) and the
//! health check read them.
//!
//! Its own module, below both `dispatch` and `web`, so that neither reaches into the
//! other: the daemon makes one [`Metrics`] and hands an `Arc` of it to each. Counters live
//! in memory and start at 0 with the process, as Prometheus counters may; their labels
//! ([`AttemptClass`], [`Rejection`]) never carry recipient data.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::store::{Millis, Outcome, OutcomeKind};

/// Why a callback was refused: the `reason` label of `loa_callback_rejected_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Rejection {
    Unsigned,
    BadSignature,
    Stale,
    Malformed,
    TooLarge,
    NotConfigured,
}

impl Rejection {
    pub const ALL: [Rejection; 6] = [
        Self::Unsigned,
        Self::BadSignature,
        Self::Stale,
        Self::Malformed,
        Self::TooLarge,
        Self::NotConfigured,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Self::Unsigned => "unsigned",
            Self::BadSignature => "bad_signature",
            Self::Stale => "stale",
            Self::Malformed => "malformed",
            Self::TooLarge => "too_large",
            Self::NotConfigured => "not_configured",
        }
    }
}

/// How a try that reached (or tried to reach) the provider ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptClass {
    Sent,
    Transient,
    Permanent,
}

impl AttemptClass {
    pub const ALL: [AttemptClass; 3] = [Self::Sent, Self::Transient, Self::Permanent];

    pub fn label(self) -> &'static str {
        match self {
            Self::Sent => "sent",
            Self::Transient => "transient",
            Self::Permanent => "permanent",
        }
    }

    /// The class of an outcome; None for outcomes that made no try (skipped, expired,
    /// released).
    pub fn of(result: &OutcomeKind) -> Option<AttemptClass> {
        match result {
            OutcomeKind::Sent { .. } => Some(Self::Sent),
            OutcomeKind::Retry { .. } => Some(Self::Transient),
            OutcomeKind::Failed { .. } => Some(Self::Permanent),
            OutcomeKind::Skipped { .. } | OutcomeKind::Expired | OutcomeKind::Released => None,
        }
    }
}

/// In-memory counters, shared (`Arc`) between the dispatcher and the web routes. All
/// methods are lock-free and cheap enough to call per message.
#[derive(Debug)]
pub struct Metrics {
    started_at: Millis,
    attempts: [AtomicU64; 3],
    leases_rescued: AtomicU64,
    /// 0 until the first success.
    last_success: AtomicI64,
    rejected: [AtomicU64; Rejection::ALL.len()],
    replays: AtomicU64,
}

impl Metrics {
    /// Counters at 0, for a process started at `now`.
    pub fn new(now: Millis) -> Metrics {
        Metrics {
            started_at: now,
            attempts: Default::default(),
            leases_rescued: AtomicU64::new(0),
            last_success: AtomicI64::new(0),
            rejected: Default::default(),
            replays: AtomicU64::new(0),
        }
    }

    /// One try ended as `class`.
    pub fn attempt(&self, class: AttemptClass) {
        self.attempts[class as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A message was accepted by its provider at `at` (ms); keeps the latest.
    pub fn sent_at(&self, at: Millis) {
        self.last_success.fetch_max(at, Ordering::Relaxed);
    }

    /// Counts the tries among `outcomes` by class and notes the latest success — one call
    /// per recorded batch.
    pub fn outcomes(&self, outcomes: &[Outcome]) {
        for o in outcomes {
            if let Some(class) = AttemptClass::of(&o.result) {
                self.attempt(class);
                if class == AttemptClass::Sent {
                    self.sent_at(o.started_at + o.duration_ms);
                }
            }
        }
    }

    /// `n` expired leases were rescued (what [`crate::store::Store::rescue_expired`] returns).
    pub fn leases_rescued(&self, n: u64) {
        self.leases_rescued.fetch_add(n, Ordering::Relaxed);
    }

    /// A callback was refused for `reason`.
    pub fn rejected(&self, reason: Rejection) {
        self.rejected[reason as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// A callback repeated one already applied.
    pub fn replay(&self) {
        self.replays.fetch_add(1, Ordering::Relaxed);
    }

    pub fn started_at(&self) -> Millis {
        self.started_at
    }

    /// When a send last succeeded in this process (ms), if one did.
    pub fn last_success(&self) -> Option<Millis> {
        Some(self.last_success.load(Ordering::Relaxed)).filter(|&t| t > 0)
    }

    pub fn attempts(&self, class: AttemptClass) -> u64 {
        self.attempts[class as usize].load(Ordering::Relaxed)
    }

    pub fn rejections(&self, reason: Rejection) -> u64 {
        self.rejected[reason as usize].load(Ordering::Relaxed)
    }

    /// Leases rescued so far.
    pub fn rescued(&self) -> u64 {
        self.leases_rescued.load(Ordering::Relaxed)
    }

    pub fn replays(&self) -> u64 {
        self.replays.load(Ordering::Relaxed)
    }
}

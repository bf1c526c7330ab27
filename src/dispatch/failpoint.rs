//! Crash points for the reliability tests (docs/reliability.md#r2): each names one window
//! between two durable steps, and the test proves that a crash there loses nothing.
//!
//! `LOA_FAILPOINT=<name>` is read once, by [`arm_from_env`] when `loa run` starts; at the
//! named point the process calls [`std::process::abort`] — no destructors, no flush, no
//! lease release, as close to `kill -9` as a process can do to itself. Unset, every
//! [`hit`] is one relaxed atomic load.
//!
//! | name | where |
//! |---|---|
//! | `after-claim` | a claim is committed, before any send |
//! | `after-send` | the provider accepted a message, before its outcome is recorded |
//! | `after-record` | a batch of outcomes is committed |
//! | `mid-enqueue` | the first batch of an occurrence's rows is committed, before the occurrence is marked enqueued |

use std::sync::atomic::{AtomicU8, Ordering};

/// One crash point; see the module docs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Point {
    AfterClaim = 1,
    AfterSend = 2,
    AfterRecord = 3,
    MidEnqueue = 4,
}

impl Point {
    const ALL: [Point; 4] = [
        Point::AfterClaim,
        Point::AfterSend,
        Point::AfterRecord,
        Point::MidEnqueue,
    ];

    pub(crate) fn name(self) -> &'static str {
        match self {
            Point::AfterClaim => "after-claim",
            Point::AfterSend => "after-send",
            Point::AfterRecord => "after-record",
            Point::MidEnqueue => "mid-enqueue",
        }
    }
}

/// The armed point (0: none).
static ARMED: AtomicU8 = AtomicU8::new(0);

/// Arms the point named by `LOA_FAILPOINT`, if any; an unknown name is an error, so a
/// misspelt test does not pass by never crashing.
pub(crate) fn arm_from_env() -> anyhow::Result<()> {
    let Ok(name) = std::env::var("LOA_FAILPOINT") else {
        return Ok(());
    };
    let point = Point::ALL
        .into_iter()
        .find(|p| p.name() == name)
        .ok_or_else(|| {
            let names: Vec<_> = Point::ALL.iter().map(|p| p.name()).collect();
            anyhow::anyhow!("LOA_FAILPOINT={name:?} is not one of {}", names.join(", "))
        })?;
    ARMED.store(point as u8, Ordering::Relaxed);
    tracing::warn!(
        failpoint = point.name(),
        "failpoint armed: this process will abort there"
    );
    Ok(())
}

/// Aborts the process when `point` is armed.
#[inline]
pub(crate) fn hit(point: Point) {
    if ARMED.load(Ordering::Relaxed) == point as u8 {
        eprintln!("loa: failpoint {} reached; aborting", point.name());
        std::process::abort();
    }
}

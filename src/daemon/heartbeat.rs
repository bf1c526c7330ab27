//! Whether another daemon works on the same ledger: each daemon writes a heartbeat into
//! the ledger (`kv`, key [`KEY`]) every [`EVERY`]; at start a heartbeat of another owner
//! younger than [`FRESH`] means that daemon is running.
//!
//! The ledger itself carries the sign, not a lock file beside it: it works wherever the
//! ledger does, needs no path, and a daemon killed with SIGKILL stops beating, so its
//! heartbeat ages out by itself (a restart within [`FRESH`] of a SIGKILL may warn once,
//! naming the dead owner and the heartbeat's age). A clean stop clears it. Leases would
//! not do: an idle daemon holds none.
//!
//! Two daemons on one SQLite ledger are safe — claims are fenced by owner and attempt
//! (`store`) — but gain nothing: SQLite takes one writer at a time. So this only warns.

use std::time::Duration;

use crate::store::{Millis, Store};

/// The `kv` key of the heartbeat: `<millis> <owner>`.
pub(crate) const KEY: &str = "daemon.heartbeat";

/// How often a running daemon writes its heartbeat.
pub(crate) const EVERY: Duration = Duration::from_secs(10);

/// How young another owner's heartbeat must be to count as a running daemon.
pub(crate) const FRESH: Duration = Duration::from_secs(30);

/// Another daemon's heartbeat: its owner and how long ago it beat.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Other {
    pub owner: String,
    pub ago: Duration,
}

/// The heartbeat of a daemon other than `owner`, if one beat within [`FRESH`] of `now`.
pub(crate) async fn other(store: &Store, owner: &str, now: Millis) -> Option<Other> {
    let value = store.kv_get(KEY).await.ok()??;
    let (at, who) = parse(&value)?;
    let ago = Duration::from_millis(u64::try_from(now - at).unwrap_or(0));
    (who != owner && at > 0 && ago < FRESH).then(|| Other {
        owner: who.to_owned(),
        ago,
    })
}

/// Writes `owner`'s heartbeat. A failure only delays the warning another start would
/// give, so it is logged at debug and the round goes on.
pub(crate) async fn beat(store: &Store, owner: &str, now: Millis) {
    if let Err(e) = store.kv_put(KEY, &format!("{now} {owner}"), now).await {
        tracing::debug!(error = %format!("{e:#}"), "heartbeat not written");
    }
}

/// Clears `owner`'s heartbeat on a clean stop, unless another daemon's replaced it.
pub(crate) async fn clear(store: &Store, owner: &str, now: Millis) {
    let ours = store
        .kv_get(KEY)
        .await
        .ok()
        .flatten()
        .and_then(|v| parse(&v).map(|(_, who)| who == owner))
        .unwrap_or(false);
    if ours && let Err(e) = store.kv_put(KEY, &format!("0 {owner}"), now).await {
        tracing::debug!(error = %format!("{e:#}"), "heartbeat not cleared");
    }
}

fn parse(value: &str) -> Option<(Millis, &str)> {
    let (at, who) = value.split_once(' ')?;
    Some((at.parse().ok()?, who))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::test_support;

    #[tokio::test]
    async fn a_fresh_heartbeat_of_another_owner_is_another_daemon_and_ours_is_not() {
        let (_dir, store) = test_support::open().await;
        assert_eq!(other(&store, "b", 1_000).await, None, "no heartbeat yet");
        beat(&store, "a", 1_000).await;
        assert_eq!(other(&store, "a", 2_000).await, None, "our own");
        assert_eq!(
            other(&store, "b", 6_000).await,
            Some(Other {
                owner: "a".into(),
                ago: Duration::from_secs(5)
            })
        );
        let stale = 1_000 + FRESH.as_millis() as Millis;
        assert_eq!(other(&store, "b", stale).await, None, "aged out");
    }

    #[tokio::test]
    async fn a_clean_stop_clears_only_its_own_heartbeat() {
        let (_dir, store) = test_support::open().await;
        beat(&store, "a", 1_000).await;
        clear(&store, "b", 1_500).await;
        assert!(other(&store, "b", 2_000).await.is_some(), "b cleared a's");
        clear(&store, "a", 2_000).await;
        assert_eq!(other(&store, "b", 2_500).await, None);
    }
}

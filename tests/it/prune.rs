//! `loa prune` (retention, docs/reliability.md#r21) on the ledger `loa simulate` leaves: the
//! personal data of messages that ended long ago is cleared in batches, every count stays.

use crate::support::workspace::{EXAMPLE, Workspace};

const LEDGER: &str = "sqlite://outbox/.simulate/bhyt-hssv-2026-2027.db";

fn number(text: &str) -> u64 {
    let digits: String = text
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    digits
        .parse()
        .unwrap_or_else(|_| panic!("no count in {text:?}"))
}

#[test]
fn prune_clears_what_ended_before_the_cutoff_once_and_keeps_the_counts() {
    let ws = Workspace::example();
    ws.loa(&["--outbox", "outbox", "simulate", EXAMPLE]).ok();
    let db = ["--database-url", LEDGER];
    let status = |ws: &Workspace| {
        ws.loa(&[&db[..], &["status", "--format", "json"]].concat())
            .ok()
    };
    let before = status(&ws);

    // The example's skipped messages changed at their virtual times, months ago.
    let dry = ws
        .loa(&[&db[..], &["prune", "--days", "30", "--dry-run"]].concat())
        .ok();
    let would = number(&dry);
    assert!(would > 0, "{dry}");
    assert!(dry.contains("--dry-run"), "{dry}");
    let again = ws
        .loa(&[&db[..], &["prune", "--days", "30", "--dry-run"]].concat())
        .ok();
    assert_eq!(number(&again), would, "a dry run clears nothing");

    let done = ws.loa(&[&db[..], &["prune", "--days", "30"]].concat()).ok();
    assert!(done.starts_with("Đã xoá"), "{done}");
    assert!(done.contains(&format!(" {would} tin nhắn")), "{done}");
    assert_eq!(status(&ws), before, "every count stays");
    let after = ws
        .loa(&[&db[..], &["prune", "--days", "30", "--dry-run"]].concat())
        .ok();
    assert_eq!(number(&after), 0, "{after}");

    let refused = ws.loa(&[&db[..], &["prune", "--days", "0"]].concat());
    assert_ne!(refused.code(), 0, "zero days would clear what just ended");
}

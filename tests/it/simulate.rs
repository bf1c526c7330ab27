//! `loa simulate`: the whole period in virtual time, to the outbox; it must deliver exactly
//! what `plan` promised.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::helpers::{EXAMPLE, Workspace};

fn files_in(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn simulate_delivers_to_the_outbox_exactly_what_plan_promised() {
    let ws = Workspace::example();
    let plan: Vec<Value> =
        serde_json::from_str(&ws.loa(&["plan", EXAMPLE, "--format", "json"]).ok()).unwrap();
    ws.loa(&["simulate", EXAMPLE]).ok();
    let status: Value = serde_json::from_str(
        &ws.loa(&[
            "--database-url",
            "sqlite://outbox/.simulate/bhyt-hssv-2026-2027.db",
            "status",
            "bhyt-hssv-2026-2027",
            "--format",
            "json",
        ])
        .ok(),
    )
    .unwrap();
    let mut promised: BTreeMap<(String, String), u64> = BTreeMap::new();
    for e in &plan {
        *promised
            .entry((
                e["step"].as_str().unwrap().into(),
                e["channel"].as_str().unwrap().into(),
            ))
            .or_default() += e["recipients"].as_u64().unwrap();
    }
    let count = |s: &Value, state: &str| s["counts"][state].as_u64().unwrap_or(0);
    let steps = status["steps"].as_array().expect("steps");
    for ((step, channel), want) in &promised {
        let s = steps
            .iter()
            .find(|s| s["step"] == step.as_str() && s["channel"] == channel.as_str())
            .unwrap_or_else(|| panic!("no status for {step}/{channel}: {status}"));
        // plan counts rows that match `where` before addresses are checked: each is sent or,
        // without an address, skipped.
        assert_eq!(
            count(s, "sent") + count(s, "skipped"),
            *want,
            "{step}/{channel}: {s}"
        );
        let files = files_in(&ws.path(&format!("outbox/bhyt-hssv-2026-2027/{step}/{channel}")));
        assert_eq!(
            files.len() as u64,
            count(s, "sent"),
            "{step}/{channel}: one file per sent message"
        );
        for state in ["pending", "sending", "failed"] {
            assert_eq!(count(s, state), 0, "{step}/{channel} {state}: {s}");
        }
    }
    // The fallback: rows that no channel of the step could reach go to sms. On the zalo-only
    // steps those are the rows skipped on zalo for want of a phone number, skipped on sms
    // too (same column), so sms holds only such rows. parent-notice also goes by e-mail,
    // which reaches every parent there: nobody needs its fallback.
    assert!(
        !steps
            .iter()
            .any(|s| s["step"] == "parent-notice" && s["channel"] == "sms"),
        "{status}"
    );
    for s in steps.iter().filter(|s| s["channel"] == "sms") {
        let zalo = steps
            .iter()
            .find(|z| z["step"] == s["step"] && z["channel"] == "zalo")
            .unwrap();
        assert_eq!(
            count(s, "sent") + count(s, "skipped"),
            count(zalo, "skipped"),
            "{s}"
        );
    }
    let eml = files_in(&ws.path("outbox/bhyt-hssv-2026-2027/banners-hang/email"));
    assert_eq!(eml.len(), 8);
    let raw = std::fs::read_to_string(ws.path(&format!(
        "outbox/bhyt-hssv-2026-2027/banners-hang/email/{}",
        eml[0]
    )))
    .unwrap();
    assert!(
        raw.contains("Message-ID: <") && raw.contains("X-Loa-Message: "),
        "{raw}"
    );
}

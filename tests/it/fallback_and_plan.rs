//! Issue 14, "wrong or surprising sends", through the built binary: the Ho Chi Minh City
//! trial's multi-channel step with a fallback (parents with a phone but no e-mail), and
//! `plan` against `simulate`'s ledger for `where` conditions that read the occurrence.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::helpers::Workspace;

const CAMPAIGN: &str = "campaigns/hcm.yaml";

const YAML: &str = r#"campaign: hcm
title: "BHYT HSSV TP.HCM"
status: active
timezone: Asia/Ho_Chi_Minh
period: { start: 2026-09-01, end: 2026-12-31 }
windows:
  collection: { start: 2026-09-01, end: 2026-12-31 }
audiences:
  parents:
    source: data/parents.csv
    key: id
    columns: { insured: bool }
channels:
  email:
    type: smtp
    url: "smtp://127.0.0.1:2525"
    from: "BHXH <bhxh@example.org>"
  zalo:
    type: zalo_zns
    access_token: "${ZALO_ACCESS_TOKEN:-}"
  sms:
    type: webhook
    url: "http://127.0.0.1:9/sms"
    body: sms_body
    to: sms_phone
messages:
  slogans: ["Một", "Hai", "Ba"]
steps:
  - id: notice
    audience: parents
    where: "not row.insured"
    channel: [zalo, email]
    fallback: sms
    template: note
    send: { at: "2026-09-07 08:00" }
  - id: third-on
    audience: parents
    where: "occurrence.n >= 3 and not row.insured"
    channel: [email, zalo]
    template: note
    send: { cron: "0 8 * * MON", within: collection, max: 5 }
  - id: slogan-two
    audience: parents
    where: "slogan == 'Hai' and step.id == 'slogan-two' and campaign.id == 'hcm'"
    channel: email
    template: note
    send: { cron: "0 9 * * TUE", within: collection, max: 4 }
"#;

/// id, phone (Zalo's column), sms_phone (the SMS gateway's), email, insured.
const PARENTS: &str = "id,phone,sms_phone,email,insured
A1,0912000001,0912000001,,không
A2,0912000002,0912000002,,không
A3,0912000003,0912000003,,không
A4,0912000004,0912000004,,không
A5,0912000005,0912000005,,không
A6,0912000006,0912000006,,không
B1,0912000011,0912000011,b1@example.org,không
B2,0912000012,0912000012,b2@example.org,không
C1,,0912000021,c1@example.org,không
D1,,0912000031,,không
D2,,0912000032,,không
E1,,,,không
I1,0912000041,0912000041,i1@example.org,có
";

fn workspace() -> Workspace {
    let ws = Workspace {
        dir: tempfile::tempdir().expect("temp dir"),
    };
    for dir in ["campaigns/data", "templates/note", "templates/sms_body"] {
        std::fs::create_dir_all(ws.path(dir)).unwrap();
    }
    ws.write(CAMPAIGN, YAML);
    ws.write("campaigns/data/parents.csv", PARENTS);
    ws.write("templates/note/subject.tera", "BHYT {{ row.id }}");
    ws.write(
        "templates/note/text.tera",
        "Kính gửi phụ huynh {{ row.id }}",
    );
    ws.write(
        "templates/note/zns.yaml",
        "template_id: \"300003\"\nparams:\n  id: \"{{ row.id }}\"\n",
    );
    ws.write(
        "templates/sms_body/body.tera",
        "{\"to\": {{ address | json_encode() }}, \"text\": {{ text | json_encode() }}}",
    );
    ws
}

fn at(v: &Value) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(v.as_str().expect("a time")).expect("RFC 3339")
}

/// The simulated ledger, one row per message, read back by `loa report`.
fn ledger(ws: &Workspace) -> Vec<Value> {
    let out = ws
        .loa(&[
            "--database-url",
            "sqlite://outbox/.simulate/hcm.db",
            "report",
            "hcm",
            "--format",
            "json",
            "--full-addresses",
        ])
        .ok();
    serde_json::from_str::<Value>(&out)
        .expect("report JSON")
        .as_array()
        .expect("array")
        .clone()
}

#[test]
fn plan_json_and_the_simulated_ledger_agree_per_step_occurrence_and_channel() {
    let ws = workspace();
    let plan: Vec<Value> =
        serde_json::from_str(&ws.loa(&["plan", CAMPAIGN, "--format", "json"]).ok()).unwrap();
    ws.loa(&["simulate", CAMPAIGN]).ok();
    let rows = ledger(&ws);
    // plan and the ledger, per step, occurrence and channel of the step (the fallback is
    // not planned: it depends on what the sends come to).
    let mut planned: BTreeMap<(String, DateTime<FixedOffset>, String), u64> = BTreeMap::new();
    for e in &plan {
        let key = (
            e["step"].as_str().unwrap().to_owned(),
            at(&e["at"]),
            e["channel"].as_str().unwrap().to_owned(),
        );
        *planned.entry(key).or_default() += e["recipients"].as_u64().unwrap();
    }
    let mut simulated: BTreeMap<(String, DateTime<FixedOffset>, String), u64> =
        planned.keys().map(|k| (k.clone(), 0)).collect();
    for r in rows.iter().filter(|r| r["channel"] != "sms") {
        let key = (
            r["step"].as_str().unwrap().to_owned(),
            at(&r["occurrence_at"]),
            r["channel"].as_str().unwrap().to_owned(),
        );
        *simulated.entry(key).or_default() += 1;
    }
    assert_eq!(planned, simulated);
    let per_occurrence = |step: &str, channel: &str| -> Vec<u64> {
        planned
            .iter()
            .filter(|((s, _, c), _)| s == step && c == channel)
            .map(|(_, n)| *n)
            .collect()
    };
    // 12 parents have not joined; `occurrence.n >= 3` selects them from the third Monday.
    assert_eq!(per_occurrence("third-on", "zalo"), [0, 0, 12, 12, 12]);
    // All 13 parents, on the second of the three slogans only.
    assert_eq!(per_occurrence("slogan-two", "email"), [0, 13, 0, 0]);
}

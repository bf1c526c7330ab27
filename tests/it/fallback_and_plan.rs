//! Issue 14, "wrong or surprising sends", through the built binary: the Ho Chi Minh City
//! trial's multi-channel step with a fallback (parents with a phone but no e-mail), and
//! `plan` against `simulate`'s ledger for `where` conditions that read the occurrence.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};
use serde_json::Value;

use crate::support::workspace::Workspace;

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
fn in_simulate_zalo_reached_parents_without_email_get_no_sms() {
    let ws = workspace();
    ws.loa(&["simulate", CAMPAIGN]).ok();
    let rows = ledger(&ws);
    assert!(!rows.is_empty());

    // The fallback reaches only those whom neither zalo nor email could: D1, D2 (sent) and
    // E1 (no SMS number either: skipped).
    let sms: BTreeMap<String, String> = rows
        .iter()
        .filter(|r| r["channel"] == "sms")
        .map(|r| {
            let who = r["recipient"].as_str().unwrap().to_owned();
            (who, r["state"].as_str().unwrap().to_owned())
        })
        .collect();
    let want: BTreeMap<String, String> = [("D1", "sent"), ("D2", "sent"), ("E1", "skipped")]
        .into_iter()
        .map(|(a, b)| (a.to_owned(), b.to_owned()))
        .collect();
    assert_eq!(sms, want, "SMS rows");
    let zalo_sent: Vec<&str> = rows
        .iter()
        .filter(|r| r["step"] == "notice" && r["channel"] == "zalo" && r["state"] == "sent")
        .map(|r| r["recipient"].as_str().unwrap())
        .collect();
    assert_eq!(zalo_sent, ["A1", "A2", "A3", "A4", "A5", "A6", "B1", "B2"]);
    let sms_files = std::fs::read_dir(ws.path("outbox/hcm/notice/sms"))
        .map(|d| d.count())
        .unwrap_or(0);
    assert_eq!(sms_files, 2, "one SMS file each for D1 and D2");
    // No row claims a fallback that did not happen.
    for r in &rows {
        let error = r["last_error"].as_str().unwrap_or_default();
        assert!(!error.contains("instead"), "{r}");
    }
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

/// The trial's case against real servers on loopback: Zalo answers "no Zalo account"
/// (-118) for some numbers, e-mail goes to an SMTP sink, SMS to an HTTP sink.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_daemon_sends_sms_only_where_no_step_channel_reached_and_never_retries_what_it_replaced()
 {
    use std::time::Duration;

    use crate::support::daemon::{Daemon, Tuning, log_tail, until};
    use crate::support::http_sink::HttpSink;
    use crate::support::ledger;
    use crate::support::smtp_sink::SmtpSink;
    use chrono::Utc;
    use chrono_tz::Asia::Ho_Chi_Minh;

    let http = HttpSink::start().await;
    http.zalo().valid_tokens.push("tok-A".into());
    for phone in ["84900000001", "84900000003"] {
        http.zalo().zalo_errors.insert(phone.into(), -118);
    }
    let smtp = SmtpSink::start().await;
    let ws = Workspace::empty();
    let root = ws.root();
    for dir in ["campaigns/data", "templates/note", "templates/sms_body"] {
        std::fs::create_dir_all(root.join(dir)).unwrap();
    }
    let now = Utc::now().with_timezone(&Ho_Chi_Minh);
    let due = now - chrono::Duration::minutes(1);
    let yaml = format!(
        "campaign: hcm\ntitle: \"BHYT HSSV TP.HCM\"\nstatus: active\ntimezone: Asia/Ho_Chi_Minh\n\
         period: {{ start: {start}, end: {end} }}\n\
         audiences:\n  parents:\n    source: data/parents.csv\n    key: id\n\
         channels:\n  email:\n    type: smtp\n    url: \"{smtp}\"\n    from: \"BHXH <bhxh@example.org>\"\n\
         \x20 zalo:\n    type: zalo_zns\n    endpoint: \"{zalo}\"\n    access_token: \"${{ZALO_ACCESS_TOKEN}}\"\n\
         \x20 sms:\n    type: webhook\n    url: \"{sms}\"\n    body: sms_body\n\
         steps:\n  - id: notice\n    audience: parents\n    channel: [zalo, email]\n    fallback: sms\n    \
         template: note\n    send: {{ at: \"{at}\" }}\n",
        start = now.date_naive() - chrono::Duration::days(1),
        end = now.date_naive() + chrono::Duration::days(2),
        smtp = smtp.url(),
        zalo = http.url(""),
        sms = http.url("/ok"),
        at = due.format("%Y-%m-%d %H:%M"),
    );
    std::fs::write(root.join("campaigns/hcm.yaml"), yaml).unwrap();
    // A1: no Zalo account, no e-mail → SMS. A2: Zalo, no e-mail → no SMS. A3: no Zalo
    // account, e-mail → no SMS. A4: no phone, e-mail → no SMS.
    std::fs::write(
        root.join("campaigns/data/parents.csv"),
        "id,phone,email\nA1,0900000001,\nA2,0900000002,\nA3,0900000003,a3@example.org\n\
         A4,,a4@example.org\n",
    )
    .unwrap();
    std::fs::write(
        root.join("templates/note/subject.tera"),
        "BHYT {{ row.id }}",
    )
    .unwrap();
    std::fs::write(
        root.join("templates/note/text.tera"),
        "Kính gửi {{ row.id }}",
    )
    .unwrap();
    std::fs::write(
        root.join("templates/note/zns.yaml"),
        "template_id: \"300003\"\nparams:\n  id: \"{{ row.id }}\"\n",
    )
    .unwrap();
    std::fs::write(
        root.join("templates/sms_body/body.tera"),
        "{\"to\": {{ address | json_encode() }}, \"text\": {{ text | json_encode() }}}",
    )
    .unwrap();

    let db = ws.db();
    let d = Daemon::start_with(&ws, &Tuning::default(), &[("ZALO_ACCESS_TOKEN", "tok-A")]);
    // Every message ends: 8 on the step's channels, 1 fallback.
    let ended = until(
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async {
            if !ledger::ready(&db).await {
                return false;
            }
            let m = ledger::messages(&db).await;
            m.len() == 9
                && m.iter()
                    .all(|m| m.state != "pending" && m.state != "sending")
        },
    )
    .await;
    let rows = ledger::messages(&db).await;
    assert!(ended, "{rows:?}\n{}", log_tail(&ws, 30));
    let state = |who: &str, channel: &str| -> String {
        rows.iter()
            .find(|m| m.recipient == who && m.channel == channel)
            .map(|m| m.state.clone())
            .unwrap_or_else(|| "none".into())
    };
    let table: Vec<[String; 4]> = ["A1", "A2", "A3", "A4"]
        .iter()
        .map(|who| {
            [
                (*who).to_owned(),
                state(who, "zalo"),
                state(who, "email"),
                state(who, "sms"),
            ]
        })
        .collect();
    let want = [
        ["A1", "replaced", "skipped", "sent"],
        ["A2", "sent", "skipped", "none"],
        ["A3", "failed", "sent", "none"],
        ["A4", "skipped", "sent", "none"],
    ]
    .map(|r| r.map(str::to_owned));
    let report = ws.loa(&["report", "hcm", "--format", "json"]).stdout();
    assert_eq!(table, want, "{report}");
    let sms = http.requests_to("/ok");
    assert_eq!(sms.len(), 1, "one SMS, to A1");
    assert_eq!(sms[0].json()["to"], "84900000001");
    drop(d);

    // `loa retry` leaves the replaced Zalo message alone: only A3's failure goes back.
    let retry = ws.loa(&["retry", "hcm"]);
    assert!(retry.0.status.success(), "{:?}", retry.0);
    let after = ledger::messages(&db).await;
    let pending: Vec<(&str, &str)> = after
        .iter()
        .filter(|m| m.state == "pending")
        .map(|m| (m.recipient.as_str(), m.channel.as_str()))
        .collect();
    assert_eq!(pending, [("A3", "zalo")]);
    assert!(
        after
            .iter()
            .any(|m| (m.recipient.as_str(), m.state.as_str()) == ("A1", "replaced"))
    );
}

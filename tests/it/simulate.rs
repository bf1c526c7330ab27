//! `loa simulate`: the whole period in virtual time, to the outbox; it must deliver exactly
//! what `plan` promised.

use std::collections::BTreeMap;
use std::path::Path;

use serde_json::Value;

use crate::support::campaign::CampaignBuilder;
use crate::support::workspace::{EXAMPLE, Workspace};

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

/// Issue 14 item 7: rows `validate` reports are not dropped silently by a run.
#[test]
fn rows_validate_reports_become_skipped_messages_counted_by_plan_status_and_report() {
    let ws = Workspace::example();
    let path = ws.path("campaigns/data/students.csv");
    let mut students = std::fs::read(&path).expect("students");
    let first = students.iter().filter(|&&b| b == b'\n').count() + 1;
    // A second HS00001 (grade 1, not insured: every parents step selects it), a short row
    // and a row whose name is not UTF-8.
    students.extend_from_slice(
        "HS00001,Trùng Khóa,1,TH-001,01/01/2020,Phụ Huynh,0912345001,dup@example.com,không,\r\n"
            .as_bytes(),
    );
    students.extend_from_slice("HS09998,Thiếu Cột,1\r\n".as_bytes());
    students.extend_from_slice(
        b"HS09999,Nguy\xC3n,1,TH-001,01/01/2020,Ph\xE1,0912345002,bad@example.com,kh\xC3\xB4ng,\r\n",
    );
    std::fs::write(&path, &students).expect("write");
    let plan: Vec<Value> =
        serde_json::from_str(&ws.loa(&["plan", EXAMPLE, "--format", "json"]).ok()).unwrap();
    ws.loa(&["simulate", EXAMPLE]).ok();
    let db = "sqlite://outbox/.simulate/bhyt-hssv-2026-2027.db";
    let status: Value = serde_json::from_str(
        &ws.loa(&[
            "--database-url",
            db,
            "status",
            "bhyt-hssv-2026-2027",
            "--format",
            "json",
        ])
        .ok(),
    )
    .unwrap();
    let count = |s: &Value, state: &str| s["counts"][state].as_u64().unwrap_or(0);
    let steps = status["steps"].as_array().expect("steps");
    let mut promised: BTreeMap<(String, String), u64> = BTreeMap::new();
    for e in &plan {
        *promised
            .entry((
                e["step"].as_str().unwrap().into(),
                e["channel"].as_str().unwrap().into(),
            ))
            .or_default() += e["recipients"].as_u64().unwrap();
    }
    for ((step, channel), want) in &promised {
        let s = steps
            .iter()
            .find(|s| s["step"] == step.as_str() && s["channel"] == channel.as_str())
            .unwrap_or_else(|| panic!("no status for {step}/{channel}: {status}"));
        assert_eq!(
            count(s, "sent") + count(s, "skipped"),
            *want,
            "{step}/{channel}: {s}"
        );
    }
    let report = ws
        .loa(&["--database-url", db, "report", "bhyt-hssv-2026-2027"])
        .ok();
    let mut rows = csv::Reader::from_reader(report.as_bytes());
    let rows: Vec<csv::StringRecord> = rows.records().map(|r| r.expect("row")).collect();
    let expect = [
        (first, "duplicate key"),
        (first + 1, "fields but the header has"),
        (first + 2, "UTF-8"),
    ];
    for (line, why) in expect {
        let recipient = format!("students.csv:{line}");
        let of_row: Vec<_> = rows.iter().filter(|r| r[3] == recipient).collect();
        assert!(!of_row.is_empty(), "no message for line {line}:\n{report}");
        for r in of_row {
            assert_eq!(&r[6], "skipped", "{r:?}");
            assert!(
                r[8].contains(why) && r[8].contains(&format!("line {line}")),
                "{r:?}"
            );
        }
    }
    for cell in [
        "Trùng Khóa",
        "0912345001",
        "dup@example",
        "Thiếu Cột",
        "Nguy",
    ] {
        assert!(!report.contains(cell), "{cell} quoted in:\n{report}");
    }
}

/// The gate `simulate` shares with the daemon holds a campaign whose file is not `active`;
/// a rehearsal lets a draft through, as simulate always did: one simulates a campaign
/// before setting it active.
#[test]
fn simulate_rehearses_a_draft_campaign_as_if_it_were_active() {
    let ws = Workspace::example();
    let yaml = ws.read(EXAMPLE);
    assert!(yaml.contains("status: active"));
    ws.write(EXAMPLE, &yaml.replace("status: active", "status: draft"));
    ws.loa(&["simulate", EXAMPLE]).ok();
    let outbox = ws.path("outbox/bhyt-hssv-2026-2027");
    let steps = files_in(&outbox);
    assert!(
        !steps.is_empty(),
        "a draft's simulation writes its messages"
    );
}

/// Each outbox file is written on one of tokio's blocking threads. Their number is bounded
/// (`cli::MAX_BLOCKING_THREADS`, 32): with tokio's default of 512, a simulation of thousands
/// of messages started hundreds of threads, each keeping its own allocator heap (a peak of
/// 141 MiB over 2,000,000 students, issue 19). The threads are counted while it runs.
#[test]
fn simulate_writes_its_outbox_on_a_bounded_number_of_threads() {
    const N: usize = 3_000;
    let ws = CampaignBuilder::new(N)
        .webhook("sms", "https://sms.example.vn/send", &[])
        .step("s1", &["sms"])
        .build();
    let mut child = ws.spawn_loa(&["simulate", "campaigns/rel.yaml"]);
    let tasks = format!("/proc/{}/task", child.id());
    let mut most = 0;
    while child.try_wait().expect("wait").is_none() {
        if let Ok(dir) = std::fs::read_dir(&tasks) {
            most = most.max(dir.count());
        }
        std::thread::sleep(std::time::Duration::from_millis(2));
    }
    assert!(child.wait().expect("wait").success(), "simulate failed");
    let written = files_in(&ws.path("outbox/rel/s1/sms"));
    println!(
        "{} outbox files, at most {most} threads at once",
        written.len()
    );
    assert!(written.len() >= N, "{} files", written.len());
    // 32 blocking threads, a worker per core, the ledger's connections and the main thread.
    let bound = 32 + std::thread::available_parallelism().map_or(2, |n| n.get()) + 16;
    assert!(
        most <= bound,
        "{most} threads at once (at most {bound} expected)"
    );
}

//! Hot reload through the real daemon: edits to a template, a `where`, the campaign's
//! status and an invalid edit, picked up while `loa run` keeps running.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::daemon_pause::{ADMIN, log_in};
use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, log_tail, sending_slowly, until};
use crate::support::ledger;
use crate::support::mime::Part;
use crate::support::smtp_sink::SmtpSink;
use crate::support::workspace::Workspace;

fn campaign_file(ws: &Workspace) -> std::path::PathBuf {
    ws.root().join("campaigns/rel.yaml")
}

/// Rewrites a file so that its modification time surely moves on.
fn rewrite(path: &Path, text: &str) {
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(path, text).expect("rewrite");
}

/// Step `s1` of the generated campaign again, as `id` with `where` added.
fn step_like_s1(yaml: &str, id: &str, condition: &str) -> String {
    let s1 = &yaml[yaml.find("  - id: s1").expect("step s1")..];
    s1.replace("id: s1", &format!("id: {id}")).replace(
        "    audience: people\n",
        &format!("    audience: people\n    where: \"{condition}\"\n"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edited_template_and_where_apply_to_the_next_occurrence_without_resending() {
    let sink = SmtpSink::start().await;
    let ws = CampaignBuilder::new(3)
        .smtp("mail", &sink.url(), &[])
        .step("s1", &["mail"])
        .build();
    let db = ws.db();
    let daemon = Daemon::start_with(&ws, &Tuning::default(), &[("LOA_ADMIN_TOKEN", ADMIN)]);
    let first = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { sink.received_count() >= 3 },
    )
    .await;
    assert!(first, "s1 not sent:\n{}", log_tail(&ws, 30));

    // An invalid edit is refused and the daemon goes on with what it had.
    let file = campaign_file(&ws);
    let good = std::fs::read_to_string(&file).unwrap();
    rewrite(&file, &good.replace("title:", "titel:"));
    let refused = until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async { log_tail(&ws, 50).contains("last good version keeps running") },
    )
    .await;
    assert!(
        refused,
        "no word of the invalid edit:\n{}",
        log_tail(&ws, 30)
    );
    assert!(log_tail(&ws, 50).contains("titel"), "{}", log_tail(&ws, 30));
    // The dashboard says so too.
    let base = format!("http://127.0.0.1:{}", daemon.port(&ws).await);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let (cookie, _) = log_in(&http, &base).await;
    let page = http
        .get(format!("{base}/"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("class=\"flash refused\"") && page.contains("titel"),
        "the dashboard does not show the refused edit"
    );

    // A new wording and a new step that selects r0 and r1 only.
    let template = ws.root().join("templates/note/text.tera");
    rewrite(
        &template,
        "Nhắc lại lần hai cho {{ row.id }}: hạn đóng BHYT là 31/12.",
    );
    let mut yaml = good.clone();
    yaml.push_str(&step_like_s1(&good, "s2", "row.n < 2"));
    rewrite(&file, &yaml);
    let started = Instant::now();
    let done = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { ledger::messages(&db).await.len() == 5 && ledger::open(&db).await == 0 },
    )
    .await;
    assert!(done, "s2 not done:\n{}", log_tail(&ws, 30));
    println!(
        "reload: s2 enqueued and sent {:.2} s after the edit",
        started.elapsed().as_secs_f64()
    );
    let received = sink.received();
    assert_eq!(
        received.len(),
        5,
        "s1 sent again, or s2 to the wrong people"
    );
    let again: Vec<_> = received
        .iter()
        .filter(|r| {
            Part::parse(&r.text())
                .decoded_body()
                .contains("Nhắc lại lần hai")
        })
        .collect();
    assert_eq!(
        again.len(),
        2,
        "the new wording reached {} mails",
        again.len()
    );
    assert!(
        again
            .iter()
            .all(|r| !r.to.iter().any(|t| t == "r2@example.test"))
    );
    // The launch and the edit, each audited once; the refused edit and the template
    // change (the campaign file is the same) are not campaign versions.
    let trail: Vec<(String, String)> = ledger::audit(&db)
        .await
        .into_iter()
        .filter(|(actor, _, _)| actor == "loa run")
        .map(|(_, action, campaign)| (action, campaign.unwrap_or_default()))
        .collect();
    assert_eq!(
        trail,
        [
            ("launch".to_string(), "rel".to_string()),
            ("edit".into(), "rel".into())
        ]
    );
    // Every message went out once.
    let mut ids: Vec<_> = received.iter().filter_map(|r| r.loa_id()).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 5);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_set_to_paused_stops_sending_within_a_second() {
    let (sink, ws, _daemon) =
        sending_slowly(40, |ws| Daemon::start(ws, &Tuning::default(), None)).await;
    let db = ws.db();
    let file = campaign_file(&ws);
    let yaml = std::fs::read_to_string(&file).unwrap();
    rewrite(&file, &yaml.replace("status: active", "status: paused"));
    let edited = Instant::now();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let at_one_second = sink.received_count();
    tokio::time::sleep(Duration::from_millis(2500)).await;
    let later = sink.received_count();
    let counts = ledger::counts(&db).await;
    println!(
        "pause: {at_one_second} received 1 s after the edit, {later} after {:.1} s; ledger {counts:?}",
        edited.elapsed().as_secs_f64()
    );
    assert_eq!(later, at_one_second, "still sending after the pause");
    assert!(later < 40, "everything went out before the pause could act");
    assert_eq!(
        counts.get("sending").copied().unwrap_or(0),
        0,
        "paused messages left leased"
    );
    assert!(counts.get("pending").copied().unwrap_or(0) > 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_removed_step_has_its_pending_messages_cancelled() {
    let (sink, ws, _daemon) =
        sending_slowly(40, |ws| Daemon::start(ws, &Tuning::default(), None)).await;
    let db = ws.db();
    // s1 gives way to a step that selects nobody.
    let file = campaign_file(&ws);
    let yaml = std::fs::read_to_string(&file).unwrap();
    let steps_at = yaml.find("  - id: s1").unwrap();
    let replaced = format!(
        "{}{}",
        &yaml[..steps_at],
        step_like_s1(&yaml, "s9", "row.n < 0")
    );
    rewrite(&file, &replaced);
    let cancelled = until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async {
            ledger::counts(&db)
                .await
                .get("cancelled")
                .copied()
                .unwrap_or(0)
                > 0
                && ledger::open(&db).await == 0
        },
    )
    .await;
    let counts = ledger::counts(&db).await;
    assert!(cancelled, "{counts:?}\n{}", log_tail(&ws, 30));
    let sent = counts.get("sent").copied().unwrap_or(0);
    println!("removed step: {counts:?}");
    assert_eq!(sent + counts["cancelled"], 40, "{counts:?}");
    tokio::time::sleep(Duration::from_millis(1000)).await;
    assert_eq!(
        sink.received_count() as i64,
        sent,
        "sent after the step was removed"
    );
}

/// Issue 14 item 10: an edit pointing an audience at the daemon's own environment is refused
/// without reading it, and the warning does not carry the secrets.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_reading_the_daemons_environment_is_refused_and_the_log_has_no_secret() {
    let sink = SmtpSink::start().await;
    let ws = CampaignBuilder::new(1)
        .smtp("mail", &sink.url(), &[])
        .step("s1", &["mail"])
        .build();
    let _daemon = Daemon::start_with(&ws, &Tuning::default(), &[("LOA_ADMIN_TOKEN", ADMIN)]);
    let sent = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { sink.received_count() >= 1 },
    )
    .await;
    assert!(sent, "s1 not sent:\n{}", log_tail(&ws, 30));
    let file = campaign_file(&ws);
    let good = std::fs::read_to_string(&file).unwrap();
    rewrite(
        &file,
        &good.replace("source: data/people.csv", "source: /proc/self/environ"),
    );
    let refused = until(
        Duration::from_secs(10),
        Duration::from_millis(50),
        || async { log_tail(&ws, 50).contains("last good version keeps running") },
    )
    .await;
    let log = log_tail(&ws, 200);
    assert!(refused, "no word of the invalid edit:\n{log}");
    assert!(log.contains("outside the campaign folder"), "{log}");
    assert!(
        !log.contains(ADMIN),
        "the admin token is in the log:\n{log}"
    );
}

//! Four-eyes approval through the real daemon (issue 17, acceptance 1; docs/approval.md):
//! `loa run` with approval on, a real SMTP sink on loopback, and `loa submit` / `loa
//! approve` run beside it. An `active` campaign never approved sends nothing; once one
//! account requested and another approved it, it sends; an edited template waits for a
//! new approval while the approved version keeps sending; the requester cannot approve
//! its own request, on the command line as on the dashboard; the audit trail names each
//! account.

use std::time::Duration;

use crate::daemon_accounts::{PASSWORD, log_in};
use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, log_tail, until};
use crate::support::ledger;
use crate::support::mime::Part;
use crate::support::smtp_sink::{Received, SmtpSink};
use crate::support::workspace::Workspace;

const OLD_TEXT: &str = "hãy tham gia bảo hiểm y tế";
const NEW_TEXT: &str = "Nhắc lại lần hai";

fn body(r: &Received) -> String {
    Part::parse(&r.text()).decoded_body()
}

/// `loa COMMAND rel --user NAME` with the password on standard input: (exit code, stderr).
fn act(ws: &Workspace, command: &str, name: &str) -> (i32, String) {
    let run = ws.loa_input(&[command, "rel", "--user", name], &format!("{PASSWORD}\n"));
    (run.code(), format!("{}{}", run.stdout(), run.stderr()))
}

/// Presses a button of the campaign page as the session `cookie`, for the `version` the
/// page showed: where it sends the browser back to.
async fn press(
    http: &reqwest::Client,
    base: &str,
    button: &str,
    cookie: &str,
    csrf: &str,
    version: &str,
) -> String {
    let r = http
        .post(format!("{base}/campaigns/rel/{button}"))
        .header("cookie", cookie)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(format!("csrf={csrf}&version={version}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 303, "{button}");
    r.headers()["location"].to_str().unwrap().to_owned()
}

/// The approval hash the campaign page shows for the files on disk.
fn shown_version(page: &str) -> String {
    let after = page
        .split("data-version>")
        .nth(1)
        .expect("the version on the page");
    after.split('<').next().unwrap().to_owned()
}

/// Rewrites a file so that its modification time surely moves on.
fn rewrite(path: &std::path::Path, text: &str) {
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(path, text).expect("rewrite");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_active_campaign_sends_only_the_version_another_account_approved() {
    let sink = SmtpSink::start().await;
    let ws = CampaignBuilder::new(20)
        .smtp("mail", &sink.url(), &["rate: 10/s"])
        .step("s1", &["mail"])
        .build();
    for name in ["lan", "minh", "xem"] {
        let role = if name == "xem" {
            "operator"
        } else {
            "approver"
        };
        let run = ws.loa_input(
            &["user", "add", name, "--role", role],
            &format!("{PASSWORD}\n"),
        );
        assert_eq!(run.code(), 0, "{}", run.stderr());
    }
    let db = ws.db();
    let daemon = Daemon::start_with(&ws, &Tuning::default(), &[("LOA_APPROVAL", "on")]);
    let base = format!("http://127.0.0.1:{}", daemon.port(&ws).await);
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    // Never approved: nothing goes out, and the log says why.
    let said = until(
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async { log_tail(&ws, 40).contains("the campaign sends nothing") },
    )
    .await;
    assert!(
        said,
        "no word of the missing approval:\n{}",
        log_tail(&ws, 30)
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.received_count(), 0, "an unapproved campaign sent");
    assert!(ledger::messages(&db).await.is_empty());
    let (lan, _, page) = log_in(&http, &base, "lan").await;
    let list = http
        .get(format!("{base}/"))
        .header("cookie", &lan)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        list.contains("data-awaiting-approval"),
        "the list does not say it waits"
    );
    assert!(
        page.contains("data-approval=\"not_requested\"")
            && page.contains("data-sending=\"nothing\""),
        "the page does not say the campaign waits for approval"
    );

    // An approval without a request, and an operator's approval, are refused.
    let (code, said) = act(&ws, "approve", "minh");
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("request it first"), "{said}");
    let (code, said) = act(&ws, "submit", "lan");
    assert_eq!(code, 0, "{said}");
    let (code, said) = act(&ws, "approve", "xem");
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("needs the role approver"), "{said}");
    // The requester cannot approve its own request.
    let (code, said) = act(&ws, "approve", "lan");
    assert_eq!(code, 1, "{said}");
    assert!(said.contains("cannot also approve"), "{said}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        sink.received_count(),
        0,
        "sent on the requester's own approval"
    );

    // Another account approves: s1, due a minute ago and within the grace, goes out.
    let (code, said) = act(&ws, "approve", "minh");
    assert_eq!(code, 0, "{said}");
    let started = until(
        Duration::from_secs(20),
        Duration::from_millis(20),
        || async { sink.received_count() >= 3 },
    )
    .await;
    assert!(
        started,
        "not sent after the approval:\n{}",
        log_tail(&ws, 30)
    );

    // The template is edited while s1 is sending, and a step s2 added: the new version
    // waits for approval, the approved one goes on with its own text.
    let template = ws.root().join("templates/note/text.tera");
    rewrite(
        &template,
        &format!("{NEW_TEXT} cho {{{{ row.id }}}}: hạn là 31/12."),
    );
    let file = ws.root().join("campaigns/rel.yaml");
    let yaml = std::fs::read_to_string(&file).unwrap();
    let s1 = yaml[yaml.find("  - id: s1").unwrap()..].replace("id: s1", "id: s2");
    rewrite(&file, &format!("{yaml}{s1}"));
    let awaiting = until(
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async { log_tail(&ws, 60).contains("the approved version keeps sending") },
    )
    .await;
    assert!(
        awaiting,
        "no word of the waiting edit:\n{}",
        log_tail(&ws, 30)
    );
    let s1_done = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { sink.received_count() >= 20 },
    )
    .await;
    assert!(
        s1_done,
        "the approved version stopped:\n{}",
        log_tail(&ws, 30)
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let received = sink.received();
    assert_eq!(received.len(), 20, "s2 went out before its approval");
    assert!(
        received.iter().all(|r| body(r).contains(OLD_TEXT)),
        "the unapproved text went out"
    );
    assert!(
        ledger::messages(&db).await.iter().all(|m| m.step == "s1"),
        "s2 was enqueued before its approval"
    );

    // The new version, on the dashboard: minh requests it, cannot approve it, lan does.
    let (minh, minh_csrf, page) = log_in(&http, &base, "minh").await;
    assert!(
        page.contains("data-sending=\"older\""),
        "the page does not say the approved version keeps sending"
    );
    let version = shown_version(&page);
    let back = press(&http, &base, "submit", &minh, &minh_csrf, &version).await;
    assert!(back.ends_with("?done=submitted"), "{back}");
    let (_, _, page) = log_in(&http, &base, "minh").await;
    assert!(page.contains("data-approval=\"awaiting\""));
    assert!(
        !page.contains("rel/approve\""),
        "the requester is offered the approve button"
    );
    let back = press(&http, &base, "approve", &minh, &minh_csrf, &version).await;
    assert!(back.ends_with("?done=own_request"), "{back}");
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert_eq!(
        sink.received_count(),
        20,
        "sent on the requester's own approval"
    );
    let (lan, lan_csrf, page) = log_in(&http, &base, "lan").await;
    assert!(
        page.contains("rel/approve\""),
        "another approver is not offered the button"
    );
    assert_eq!(shown_version(&page), version);
    // An approval of what an older page showed records nothing.
    let stale = "0".repeat(32);
    let back = press(&http, &base, "approve", &lan, &lan_csrf, &stale).await;
    assert!(back.ends_with("?done=changed"), "{back}");
    let back = press(&http, &base, "approve", &lan, &lan_csrf, &version).await;
    assert!(back.ends_with("?done=approved"), "{back}");
    let s2_done = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { sink.received_count() >= 40 },
    )
    .await;
    assert!(
        s2_done,
        "s2 not sent after its approval:\n{}",
        log_tail(&ws, 30)
    );
    let received = sink.received();
    let new: Vec<_> = received
        .iter()
        .filter(|r| body(r).contains(NEW_TEXT))
        .collect();
    assert_eq!(
        new.len(),
        20,
        "the approved new text reached {} mails",
        new.len()
    );
    assert_eq!(received.len(), 40);

    // The audit trail names each account for each request and approval.
    let trail: Vec<(String, String)> = ledger::audit(&db)
        .await
        .into_iter()
        .filter(|(_, action, _)| action == "submit" || action == "approve")
        .map(|(actor, action, _)| (actor, action))
        .collect();
    let want = [
        ("lan", "submit"),
        ("minh", "approve"),
        ("minh", "submit"),
        ("lan", "approve"),
    ];
    let want: Vec<(String, String)> = want
        .iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect();
    assert_eq!(trail, want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_daemon_with_an_outbox_does_not_wait_for_approval_and_says_so() {
    let ws = CampaignBuilder::new(2)
        .smtp("mail", "smtp://127.0.0.1:9", &[])
        .step("s1", &["mail"])
        .build();
    let _daemon = Daemon::start_with(
        &ws,
        &Tuning::default(),
        &[("LOA_APPROVAL", "on"), ("LOA_OUTBOX", "outbox")],
    );
    let outbox = ws.root().join("outbox");
    let delivered = until(
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async { files_under(&outbox) >= 2 },
    )
    .await;
    assert!(
        delivered,
        "not delivered to the outbox:\n{}",
        log_tail(&ws, 30)
    );
    let log = std::fs::read_to_string(ws.log()).unwrap();
    assert!(
        log.contains("approval is not awaited with --outbox"),
        "{log}"
    );
    assert!(log.contains("approval: off"), "{log}");
}

/// How many files are under `dir`, at any depth.
fn files_under(dir: &std::path::Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.path().is_dir() {
            true => files_under(&e.path()),
            false => 1,
        })
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_restart_files_that_match_no_approved_version_send_nothing() {
    let sink = SmtpSink::start().await;
    let ws = CampaignBuilder::new(3)
        .smtp("mail", &sink.url(), &[])
        .step("s1", &["mail"])
        .build();
    for name in ["lan", "minh"] {
        let add = ["user", "add", name, "--role", "approver"];
        assert_eq!(ws.loa_input(&add, &format!("{PASSWORD}\n")).code(), 0);
    }
    // Approved while no daemon runs, then the template is edited before the start.
    assert_eq!(act(&ws, "submit", "lan").0, 0);
    assert_eq!(act(&ws, "approve", "minh").0, 0);
    let template = ws.root().join("templates/note/text.tera");
    let approved = std::fs::read_to_string(&template).unwrap();
    rewrite(&template, "Kính gửi {{ row.id }}: nội dung chưa duyệt.");
    let _daemon = Daemon::start_with(&ws, &Tuning::default(), &[("LOA_APPROVAL", "on")]);
    let said = until(
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async { log_tail(&ws, 40).contains("the campaign sends nothing") },
    )
    .await;
    assert!(
        said,
        "no word of the unapproved files:\n{}",
        log_tail(&ws, 30)
    );
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(sink.received_count(), 0, "the unapproved text went out");
    // Put back as approved, the files match an approved version again: it sends.
    rewrite(&template, &approved);
    let sent = until(
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async { sink.received_count() >= 3 },
    )
    .await;
    assert!(
        sent,
        "the approved version did not send:\n{}",
        log_tail(&ws, 30)
    );
    assert!(sink.received().iter().all(|r| body(r).contains(OLD_TEXT)));
}

//! The daemon put together from one [`Settings`] without the CLI: on a temporary SQLite
//! ledger and an outbox folder it delivers and stops; with a bad channel it refuses to
//! start before anything is opened.

use std::path::Path;
use std::time::Duration;

use chrono::Utc;
use tokio_util::sync::CancellationToken;

use super::{Daemon, Rounds, Settings};
use crate::campaign::Diagnostics;
use crate::dispatch;
use crate::store::Store;
use crate::web::{KeysEnv, WebConfig};

/// A workspace of one active campaign with three recipients and one step due a minute
/// ago, whose smtp channel has `url`.
fn workspace(dir: &Path, url: &str) {
    crate::campaign::test_support::three_people_and_a_note(dir);
    let now = Utc::now();
    let at = (now - chrono::Duration::minutes(1)).format("%Y-%m-%d %H:%M");
    let (start, end) = (
        (now - chrono::Duration::days(1)).format("%Y-%m-%d"),
        (now + chrono::Duration::days(30)).format("%Y-%m-%d"),
    );
    let yaml = format!(
        "campaign: d1\ntitle: D1\nstatus: active\ntimezone: UTC\n\
         period: {{ start: {start}, end: {end} }}\n\
         audiences:\n  people:\n    source: data/people.csv\n    key: id\n\
         channels:\n  mail:\n    type: smtp\n    url: \"{url}\"\n    \
         from: \"Loa <loa@example.test>\"\nsteps:\n  - id: s0\n    audience: people\n    \
         channel: mail\n    template: note\n    send: {{ at: \"{at}\" }}\n"
    );
    std::fs::write(dir.join("campaigns/d1.yaml"), yaml).unwrap();
}

fn settings(dir: &Path) -> Settings {
    Settings {
        database_url: format!("sqlite://{}", dir.join("loa.db").display()),
        campaigns: dir.join("campaigns"),
        templates: dir.join("templates"),
        outbox: Some(dir.join("outbox")),
        approval: true,
        rounds: Rounds {
            poll: Duration::from_millis(100),
            ..Rounds::default()
        },
        dispatch: dispatch::Settings {
            poll: Duration::from_millis(100),
            ..dispatch::Settings::default()
        },
        web: WebConfig {
            listen: "127.0.0.1:0".into(),
            public_url: "http://127.0.0.1:8080".into(),
            env: KeysEnv::default(),
            health: Default::default(),
            workspace: None,
        },
        enqueue_batch: None,
    }
}

async fn sent(url: &str) -> i64 {
    let store = Store::open(url).await.unwrap();
    sqlx::query_scalar("SELECT COUNT(*) FROM message WHERE state = 'sent'")
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn a_daemon_from_one_settings_value_delivers_to_the_outbox_and_stops() {
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path(), "smtp://127.0.0.1:2525");
    let settings = settings(dir.path());
    let url = settings.database_url.clone();
    let daemon = Daemon::assemble(settings, |_| {})
        .await
        .unwrap()
        .expect("a valid workspace");
    let stop = CancellationToken::new();
    let running = tokio::spawn(daemon.run(stop.clone()));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while sent(&url).await < 3 {
        assert!(tokio::time::Instant::now() < deadline, "nothing was sent");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.cancel();
    tokio::time::timeout(Duration::from_secs(20), running)
        .await
        .expect("stopped in time")
        .unwrap()
        .unwrap();
    let files = walk(&dir.path().join("outbox"));
    assert_eq!(
        files.iter().filter(|f| f.ends_with(".eml")).count(),
        3,
        "{files:?}"
    );
}

#[tokio::test]
async fn a_bad_channel_refuses_the_start_naming_it_before_the_ledger_or_a_port_opens() {
    let dir = tempfile::tempdir().unwrap();
    workspace(dir.path(), "ftp://127.0.0.1:2525");
    let mut settings = settings(dir.path());
    // Never bound: the refusal comes first.
    settings.web.listen = "256.0.0.1:1".into();
    let mut shown = Diagnostics::default();
    let daemon = Daemon::assemble(settings, |d| shown = d.clone())
        .await
        .unwrap();
    assert!(daemon.is_none(), "refused");
    assert!(shown.has_errors());
    let text: Vec<String> = shown.0.iter().map(|d| d.to_string()).collect();
    assert!(
        text.iter().any(|t| t.contains("channels.mail.url")),
        "{text:?}"
    );
    assert!(!dir.path().join("loa.db").exists(), "the ledger was opened");
}

fn walk(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path.display().to_string());
        }
    }
    out
}

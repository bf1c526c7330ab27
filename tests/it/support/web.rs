//! loa's HTTP side on a real TCP listener (127.0.0.1:0) over a fresh SQLite ledger, with
//! `sent` messages seeded through the public `Store` API, a watcher that tells whether
//! anything was committed, and a capture of the log lines the handlers write.

use std::io::Write;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use loa::campaign::Workspace;
use loa::store::{
    CampaignRow, Claimed, NewMessage, NewState, Outcome, OutcomeKind, Store, message_tag,
};
use loa::web::{self, HealthThresholds, Keys, Metrics, WebState};
use sqlx::Connection;
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use tokio_util::sync::CancellationToken;

pub fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

/// A running web server and its ledger.
pub struct WebApp {
    pub base: String,
    pub store: Store,
    pub metrics: Arc<Metrics>,
    pub db: PathBuf,
    pub http: reqwest::Client,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl WebApp {
    pub async fn start(keys: Keys) -> WebApp {
        WebApp::start_with(keys, HealthThresholds::default(), now_ms()).await
    }

    /// With the loaded workspace, for the dashboard.
    pub async fn start_with_workspace(keys: Keys, workspace: Arc<Workspace>) -> WebApp {
        WebApp::start_full(keys, HealthThresholds::default(), now_ms(), Some(workspace)).await
    }

    /// With health thresholds and the metrics' process start time.
    pub async fn start_with(keys: Keys, health: HealthThresholds, started: i64) -> WebApp {
        WebApp::start_full(keys, health, started, None).await
    }

    async fn start_full(
        keys: Keys,
        health: HealthThresholds,
        started: i64,
        workspace: Option<Arc<Workspace>>,
    ) -> WebApp {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = dir.path().join("loa.db");
        let store = Store::open(&format!("sqlite://{}", db.display()))
            .await
            .expect("open the ledger");
        let metrics = Arc::new(Metrics::new(started));
        let mut state =
            WebState::new(store.clone(), Arc::clone(&metrics), keys).with_health(health);
        if let Some(workspace) = workspace {
            state = state.with_workspace(workspace);
        }
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let stop = CancellationToken::new();
        let task = tokio::spawn(web::serve(listener, state, stop.clone()));
        let http = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        WebApp {
            base,
            store,
            metrics,
            db,
            http,
            stop,
            task,
            _dir: dir,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `GET /metrics` (without a token).
    pub async fn metrics_text(&self) -> String {
        let r = self.http.get(self.url("/metrics")).send().await.unwrap();
        assert_eq!(r.status(), 200);
        r.text().await.unwrap()
    }

    /// Stops the server and checks it ended cleanly.
    pub async fn stop(self) {
        self.stop.cancel();
        let ended = tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("the server stops within 5 s");
        ended.expect("no panic").expect("no error");
    }
}

/// A seeded message.
#[derive(Debug, Clone)]
pub struct Seeded {
    pub message_id: String,
    pub provider_id: String,
    pub address: String,
}

/// `addresses.len()` messages on `channel` of campaign `c`, claimed and recorded `sent`
/// with provider ids `p-<message_id>`.
pub async fn seed_sent(store: &Store, channel: &str, addresses: &[&str]) -> Vec<Seeded> {
    let (seeded, claimed) = seed_claimed(store, channel, addresses).await;
    let outcomes: Vec<Outcome> = claimed.iter().map(sent).collect();
    store.record(&outcomes, now_ms()).await.unwrap();
    seeded
}

/// The outcome that records `c` as accepted by its provider, as owner `seed`.
pub fn sent(c: &Claimed) -> Outcome {
    Outcome {
        id: c.id,
        attempt: c.attempt,
        owner: "seed".into(),
        started_at: now_ms(),
        duration_ms: 1,
        result: OutcomeKind::Sent {
            provider_id: Some(format!("p-{}", c.message_id)),
        },
    }
}

/// Like [`seed_sent`], but left `sending` (claimed by owner `seed`, nothing recorded).
pub async fn seed_claimed(
    store: &Store,
    channel: &str,
    addresses: &[&str],
) -> (Vec<Seeded>, Vec<Claimed>) {
    let now = now_ms();
    store
        .upsert_campaign(&CampaignRow {
            id: "c".into(),
            title: "BHYT học sinh, sinh viên".into(),
            status: "active".into(),
            content_hash: "h".into(),
            file: "campaigns/c.yaml".into(),
        })
        .await
        .unwrap();
    let occ = store.occurrence("c", "s", 0, now).await.unwrap();
    let rows: Vec<NewMessage> = addresses
        .iter()
        .enumerate()
        .map(|(i, address)| {
            let recipient = format!("{channel}-{i}");
            NewMessage {
                tag: message_tag("c", "s", 0, &recipient, channel),
                campaign: "c".into(),
                step: "s".into(),
                occurrence_id: occ.id,
                occurrence_at: occ.at,
                occurrence_n: 0,
                recipient,
                channel: channel.into(),
                fallback_of: None,
                address: Some((*address).into()),
                state: NewState::Pending,
                next_attempt_at: now,
                expires_at: now + 86_400_000,
                context: "{}".into(),
            }
        })
        .collect();
    store.insert_messages(&rows, now).await.unwrap();
    let only = [channel.to_string()];
    let claimed = store
        .claim("seed", now, Duration::from_secs(60), 10_000, &only)
        .await
        .unwrap();
    // The ledger gives each row its message id; the claim hands them back.
    let seeded = rows
        .into_iter()
        .map(|m| {
            let message_id = claimed
                .iter()
                .find(|c| c.recipient == m.recipient)
                .map(|c| c.message_id.clone())
                .expect("every seeded row is claimed");
            Seeded {
                provider_id: format!("p-{message_id}"),
                message_id,
                address: m.address.unwrap_or_default(),
            }
        })
        .collect();
    (seeded, claimed)
}

/// A connection of its own to the ledger: `PRAGMA data_version` on it changes exactly when
/// another connection (the server) commits.
pub struct Watcher(SqliteConnection);

impl Watcher {
    pub async fn open(db: &std::path::Path) -> Watcher {
        let options = SqliteConnectOptions::new()
            .filename(db)
            .busy_timeout(Duration::from_secs(10));
        Watcher(SqliteConnection::connect_with(&options).await.unwrap())
    }

    pub async fn version(&mut self) -> i64 {
        sqlx::query_scalar("PRAGMA data_version")
            .fetch_one(&mut self.0)
            .await
            .unwrap()
    }

    /// (state, delivered_at, number of events) of a message.
    pub async fn message(&mut self, message_id: &str) -> (String, Option<i64>, i64) {
        sqlx::query_as(
            "SELECT state, delivered_at, \
             (SELECT COUNT(*) FROM message_event e WHERE e.message = m.id) \
             FROM message m WHERE message_id = ?",
        )
        .bind(message_id)
        .fetch_one(&mut self.0)
        .await
        .unwrap()
    }

    pub async fn count(&mut self, sql: &str) -> i64 {
        sqlx::query_scalar(sqlx::AssertSqlSafe(sql.to_string()))
            .fetch_one(&mut self.0)
            .await
            .unwrap()
    }
}

/// Log lines written while the guard lives, on this thread (the `#[tokio::test]` runtime
/// runs the server's tasks on it too).
#[derive(Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl Write for LogCapture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl LogCapture {
    /// Captures every event at TRACE and above until the guard drops.
    pub fn start() -> (LogCapture, tracing::subscriber::DefaultGuard) {
        let capture = LogCapture::default();
        let writer = capture.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(tracing::Level::TRACE)
            .with_ansi(false)
            .with_writer(move || writer.clone())
            .finish();
        (capture, tracing::subscriber::set_default(subscriber))
    }

    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

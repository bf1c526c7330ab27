//! End-to-end delivery benchmark: enqueue N recipients into a durable SQLite ledger and send
//! them through the dispatcher to a local SMTP server or HTTP sink.
//!
//! ```text
//! scripts/bench.sh                       # installs Postfix's smtp-sink, runs all three
//! bench_delivery enqueue 2000000         # expansion + insert only
//! bench_delivery smtp 100000 2525        # to an SMTP server on 127.0.0.1:2525
//! bench_delivery webhook 100000          # to an in-process axum sink on loopback
//! bench_delivery callbacks 300000 1000 10  # signed receipts at 1,000/s for 10 s while sending
//! bench_delivery health 2000000           # `/healthz`'s and `/metrics`' ledger questions, 2M pending
//! bench_delivery http 100000             # the HTTP part alone: no ledger, no templates
//! ```
//!
//! Every channel runs at its type's default `concurrency:` (what `loa run` does with a
//! campaign that sets none); `LOA_BENCH_CONCURRENCY` writes another value into the campaign.
//!
//! Prints rows/s for the enqueue, messages/s for the send and the peak resident memory of
//! this process (VmHWM). The ledger is a real file with `synchronous=FULL`.

use std::error::Error;
use std::io::Write;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use chrono::{Duration as Span, Utc};
use loa::campaign::{
    ChannelKind, DataScan, EnvPolicy, LoadOptions, Workspace, default_concurrency,
};
use loa::channel::MemoryTokenStore;
use loa::dispatch::enqueue::enqueue_due;
use loa::dispatch::{Dispatcher, Settings};
use loa::store::Store;
use tokio_util::sync::CancellationToken;

/// The allocator of the `loa` binary, set up the same way, so the figures are the daemon's.
#[path = "../src/allocator.rs"]
mod allocator;

type Res<T> = Result<T, Box<dyn Error>>;

#[tokio::main]
async fn main() -> Res<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mode = args.first().map(String::as_str).unwrap_or("smtp");
    let n: u64 = args
        .get(1)
        .map(|s| s.parse())
        .transpose()?
        .unwrap_or(100_000);
    if mode == "http" {
        let webhook = default_concurrency(ChannelKind::Webhook);
        return http_floor(n, env_or("LOA_BENCH_CONCURRENCY", webhook)?).await;
    }
    let dir = tempfile::tempdir()?;
    let concurrency = match std::env::var("LOA_BENCH_CONCURRENCY") {
        Ok(n) => format!(", concurrency: {n}"),
        Err(_) => String::new(),
    };
    let channel = match mode {
        "smtp" | "enqueue" | "health" => {
            let port = args.get(2).map(String::as_str).unwrap_or("2525");
            format!(
                "email: {{ type: smtp, url: \"smtp://127.0.0.1:{port}\", from: \"BHXH <tt@example.vn>\"{concurrency} }}"
            )
        }
        "webhook" => format!(
            "email: {{ type: webhook, url: \"{}\"{concurrency} }}",
            start_sink().await?
        ),
        // Signed webhooks whose receipts come back to the daemon's callback route.
        "callbacks" => format!(
            "email: {{ type: webhook, url: \"{}\", secret: \"${{LOA_BENCH_SECRET:-{SECRET}}}\"{concurrency} }}",
            start_sink().await?
        ),
        other => return Err(format!("unknown mode {other}").into()),
    };
    write_workspace(dir.path(), n, &channel)?;
    let (ws, diags) = Workspace::load(
        &[dir.path().join("campaigns")],
        &dir.path().join("templates"),
        LoadOptions {
            env: EnvPolicy::Optional,
            data: DataScan::Headers,
        },
    );
    let ws = Arc::new(ws.ok_or_else(|| diags.to_string())?);
    let store = Store::open(&format!("sqlite://{}", dir.path().join("loa.db").display())).await?;
    loa::daemon::register(&store, &ws).await?;
    let t = Instant::now();
    let stats = enqueue_due(&store, &ws, 0, Utc::now(), None, Duration::from_secs(3600)).await?;
    report("enqueue", stats.inserted, t.elapsed(), "rows");
    if mode == "enqueue" {
        return Ok(());
    }
    if mode == "health" {
        // What `/healthz` asks the ledger, with the whole enqueue pending.
        let now = Utc::now().timestamp_millis();
        for _ in 0..3 {
            let t = Instant::now();
            let all = store.oldest_due(now).await?;
            let walk = t.elapsed();
            let t = Instant::now();
            let among = store.oldest_due_among(now, &[("bench", "email")]).await?;
            let seek = t.elapsed();
            assert_eq!(all, among);
            let figures = loa::web::figures::Figures::default();
            let t = Instant::now();
            let counted = figures.counts(&store).await?;
            let count = t.elapsed();
            let t = Instant::now();
            let kept = figures.counts(&store).await?;
            let again = t.elapsed();
            assert_eq!(counted.value, kept.value);
            let t = Instant::now();
            figures.campaign(&store, "bench", 100).await?;
            let page = t.elapsed();
            let t = Instant::now();
            figures.campaign(&store, "bench", 100).await?;
            let page_again = t.elapsed();
            println!(
                "oldest due of {} pending: every pending row {:.1} ms, per channel {:.3} ms; \
                 messages by state (/metrics, dashboard) {:.1} ms, the same asked again {:.3} ms; \
                 the campaign page's figures {:.1} ms, again {:.3} ms",
                stats.inserted,
                walk.as_secs_f64() * 1e3,
                seek.as_secs_f64() * 1e3,
                count.as_secs_f64() * 1e3,
                again.as_secs_f64() * 1e3,
                page.as_secs_f64() * 1e3,
                page_again.as_secs_f64() * 1e3
            );
        }
        return Ok(());
    }
    let settings = Settings {
        rate_limits: false,
        // The sink is on loopback, which webhooks may reach only when allowed
        // (docs/reliability.md#r13).
        allow_networks: Arc::new("127.0.0.0/8".parse()?),
        ..Settings::default()
    };
    let dispatcher = Arc::new(Dispatcher::new(
        store.clone(),
        Arc::clone(&ws),
        None,
        Arc::new(MemoryTokenStore::default()),
        settings,
    )?);
    let t = Instant::now();
    let stop = CancellationToken::new();
    let pump = tokio::spawn(Arc::clone(&dispatcher).pump(stop.clone()));
    if mode == "callbacks" {
        let rate: u64 = args.get(2).map(|s| s.parse()).transpose()?.unwrap_or(1_000);
        let seconds: u64 = args.get(3).map(|s| s.parse()).transpose()?.unwrap_or(10);
        let db = format!("sqlite://{}", dir.path().join("loa.db").display());
        callbacks(&store, &db, &ws, rate, seconds).await?;
        stop.cancel();
        pump.await?;
        return Ok(());
    }
    while store.open_count("bench").await? > 0 {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let elapsed = t.elapsed();
    stop.cancel();
    pump.await?;
    let counts = store.status(Some("bench")).await?;
    let sent = counts.iter().map(|r| r.counts["sent"]).sum::<u64>();
    let other = counts
        .iter()
        .flat_map(|r| r.counts.iter())
        .filter(|(state, n)| state.as_str() != "sent" && **n > 0)
        .map(|(state, n)| format!("{n} {state}"))
        .collect::<Vec<_>>();
    if !other.is_empty() {
        eprintln!("warning: not sent: {}", other.join(", "));
    }
    report(mode, sent, elapsed, "messages");
    Ok(())
}

/// A dispatcher setting from the environment, for trying other values; else `default`.
fn env_or<T: std::str::FromStr>(name: &str, default: T) -> Res<T>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) => Ok(v.parse().map_err(|e| format!("{name}={v:?}: {e}"))?),
        Err(_) => Ok(default),
    }
}

fn report(what: &str, n: u64, elapsed: Duration, unit: &str) {
    let rate = n as f64 / elapsed.as_secs_f64();
    let hwm = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM"))
                .map(|l| l.split_whitespace().nth(1).unwrap_or("?").to_string())
        })
        .unwrap_or_default();
    println!(
        "{what}: {n} {unit} in {:.2} s = {rate:.0} {unit}/s; peak RSS {hwm} kB",
        elapsed.as_secs_f64()
    );
}

fn write_workspace(dir: &Path, n: u64, channel: &str) -> Res<()> {
    std::fs::create_dir_all(dir.join("campaigns/data"))?;
    std::fs::create_dir_all(dir.join("templates/bench"))?;
    let now = Utc::now().with_timezone(&chrono_tz::Asia::Ho_Chi_Minh);
    let today = now.date_naive();
    let at = (now - Span::minutes(1)).format("%Y-%m-%d %H:%M");
    let yaml = format!(
        "campaign: bench\ntitle: \"Đo tốc độ gửi\"\nstatus: active\nperiod: {{ start: {}, end: {} }}\naudiences:\n  people: {{ source: data/people.csv, key: id }}\nchannels:\n  {channel}\nsteps:\n  - id: all\n    audience: people\n    where: \"row.total > row.insured\"\n    channel: email\n    template: bench\n    send: {{ at: \"{at}\" }}\n",
        today - Span::days(1),
        today + Span::days(1),
    );
    std::fs::write(dir.join("campaigns/bench.yaml"), yaml)?;
    let mut csv = std::io::BufWriter::new(std::fs::File::create(
        dir.join("campaigns/data/people.csv"),
    )?);
    writeln!(csv, "id,name,school,email,phone,total,insured")?;
    for i in 0..n {
        writeln!(
            csv,
            "HS{i:08},Nguyễn Văn {i},Trường THCS Nguyễn Du,r{i}@example.test,0912{:06},100,{}",
            i % 1_000_000,
            i % 100
        )?;
    }
    csv.flush()?;
    std::fs::write(
        dir.join("templates/bench/subject.tera"),
        "[BHXH] Nhắc tham gia BHYT học sinh: {{ row.name }}\n",
    )?;
    std::fs::write(
        dir.join("templates/bench/text.tera"),
        "Kính gửi Quý phụ huynh,\n\nHọc sinh {{ row.name }} ({{ row.school }}) chưa có thẻ BHYT học sinh năm học 2026-2027. Tỷ lệ tham gia của trường: {{ row.insured / row.total | percent }}.\nĐề nghị Quý phụ huynh đóng tại trường trước ngày 31/12/2026.\n\nBảo hiểm xã hội — Bộ phận Truyền thông\n",
    )?;
    Ok(())
}

const SECRET: &str = "bench-callback-secret-0123456789";

/// Serves loa's HTTP side and posts `rate` signed delivery receipts per second for
/// `seconds`, each for a message the dispatcher has sent meanwhile; prints the latency
/// percentiles and how many were not answered 2xx.
async fn callbacks(store: &Store, db: &str, ws: &Workspace, rate: u64, seconds: u64) -> Res<()> {
    let ledger = sqlx::SqlitePool::connect(db).await?;
    use loa::web::{KeysEnv, Metrics, WebConfig};
    let metrics = Arc::new(Metrics::new(Utc::now().timestamp_millis()));
    let config = WebConfig {
        listen: "127.0.0.1:0".into(),
        public_url: "http://127.0.0.1".into(),
        env: KeysEnv {
            callbacks: vec!["webhook/email".into()],
            ..KeysEnv::default()
        },
        health: Default::default(),
        workspace: None,
    };
    let stop = CancellationToken::new();
    let web = loa::web::start(store, &ws.campaigns, config, metrics, stop.clone()).await?;
    let url = format!("http://{}/callbacks/webhook/email", web.addr);
    let http = reqwest::Client::builder().no_proxy().build()?;
    let mut tick = tokio::time::interval(Duration::from_micros(1_000_000 / rate));
    let mut ids: Vec<String> = Vec::new();
    let mut calls = tokio::task::JoinSet::new();
    let end = Instant::now() + Duration::from_secs(seconds);
    let mut n = 0u64;
    while Instant::now() < end {
        tick.tick().await;
        if ids.is_empty() {
            ids = sent_ids(&ledger).await?;
            if ids.is_empty() {
                continue;
            }
        }
        let id = ids.pop().expect("an id");
        n += 1;
        let (http, url) = (http.clone(), url.clone());
        calls.spawn(async move {
            let body = format!(
                "{{\"message_id\":\"{id}\",\"status\":\"delivered\",\"at\":\"{}\"}}",
                Utc::now().to_rfc3339()
            );
            let ts = Utc::now().timestamp() as u64;
            let sig = format!("v1={}", loa::channel::webhook::sign(SECRET, ts, &body));
            let t = Instant::now();
            let ok = http
                .post(&url)
                .header("content-type", "application/json")
                .header("x-loa-timestamp", ts.to_string())
                .header("x-loa-signature", sig)
                .header("idempotency-key", format!("cb-{n}"))
                .body(body)
                .send()
                .await
                .map(|r| r.status().is_success())
                .unwrap_or(false);
            (t.elapsed(), ok)
        });
    }
    let mut latencies = Vec::new();
    let mut failed = 0;
    while let Some(done) = calls.join_next().await {
        let (latency, ok) = done?;
        latencies.push(latency);
        failed += usize::from(!ok);
    }
    stop.cancel();
    web.task.await??;
    let delivered: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM message WHERE state = 'delivered'")
            .fetch_one(&ledger)
            .await?;
    let still_sending: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM message WHERE state IN ('pending', 'sending')")
            .fetch_one(&ledger)
            .await?;
    latencies.sort();
    let pick = |q: f64| latencies[((latencies.len() - 1) as f64 * q) as usize];
    println!(
        "callbacks: {} signed receipts at {rate}/s for {seconds} s while sending; p50 {:.1} ms, \
         p99 {:.1} ms, max {:.1} ms; {failed} not 2xx; {delivered} messages now delivered; \
         {still_sending} still to send at the end",
        latencies.len(),
        pick(0.5).as_secs_f64() * 1e3,
        pick(0.99).as_secs_f64() * 1e3,
        pick(1.0).as_secs_f64() * 1e3,
    );
    Ok(())
}

/// Up to 500 message ids the dispatcher has recorded `sent` (not yet `delivered`), read
/// on a connection of the benchmark's own, as another program would.
async fn sent_ids(ledger: &sqlx::SqlitePool) -> Res<Vec<String>> {
    Ok(sqlx::query_scalar(
        "SELECT message_id FROM message WHERE state = 'sent' ORDER BY id DESC LIMIT 500",
    )
    .fetch_all(ledger)
    .await?)
}

/// The ceiling of the webhook run on this machine: `n` POSTs of a body like the
/// dispatcher's, `concurrency` in flight, from one reqwest client set up as loa's
/// (no redirects, no proxy, a timeout) to the same in-process sink, with nothing else:
/// no ledger, no templates, no claims.
async fn http_floor(n: u64, concurrency: usize) -> Res<()> {
    let url: Arc<str> = start_sink().await?.into();
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()?;
    let next = Arc::new(AtomicU64::new(0));
    let t = Instant::now();
    // `concurrency` tasks, each sending one request after another, as the dispatcher's send
    // tasks do, spread over every worker thread.
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..concurrency {
        let (client, url, next) = (client.clone(), Arc::clone(&url), Arc::clone(&next));
        senders.spawn(async move {
            let mut ok = 0u64;
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= n {
                    return ok;
                }
                let id = format!("m{i:x}-0123456789abcdef");
                let body = serde_json::json!({
                    "to": format!("r{i}@example.test"),
                    "text": "Kính gửi Quý phụ huynh, học sinh Nguyễn Văn A chưa có thẻ BHYT học sinh.",
                    "subject": "[BHXH] Nhắc tham gia BHYT học sinh",
                    "message_id": id,
                })
                .to_string();
                let sent = client
                    .post(&*url)
                    .header("content-type", "application/json")
                    .header("idempotency-key", id)
                    .body(body)
                    .send()
                    .await;
                ok += u64::from(sent.is_ok_and(|r| r.status().is_success()));
            }
        });
    }
    let mut ok = 0;
    while let Some(done) = senders.join_next().await {
        ok += done?;
    }
    report("http", ok, t.elapsed(), "requests");
    Ok(())
}

/// A minimal HTTP receiver on loopback answering 200 to every POST.
async fn start_sink() -> Res<String> {
    static RECEIVED: AtomicU64 = AtomicU64::new(0);
    let app = axum::Router::new().route(
        "/hook",
        axum::routing::post(|| async {
            RECEIVED.fetch_add(1, Ordering::Relaxed);
            "ok"
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(format!("http://{addr}/hook"))
}

//! Issue 14, items 12 and 13 (acceptance 3): the real daemon under a flood of slow HTTP
//! connections with a file limit of 1,024, and with its ledger on a disk that fills up
//! and then has room again. `/healthz` answers within 2 s throughout the flood; a full
//! disk turns it 503 within 5 s and sending resumes within 10 s of space returning; and
//! the daemon stops within 15 s of SIGTERM in each of these states. The figures are
//! printed (`cargo test --test it reliability_limits -- --nocapture`).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use chrono::{Duration as Days, Timelike, Utc};
use chrono_tz::Asia::Ho_Chi_Minh;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, free_port, log_tail, until};
use crate::support::http_sink::{Answer, HttpSink};
use crate::support::ledger;
use crate::support::smtp_sink::SmtpSink;

/// `/healthz` on a new connection: its status and body, or why there was none.
async fn healthz(port: u16) -> Result<(u16, String), String> {
    let asked = async {
        let mut s = TcpStream::connect(("127.0.0.1", port))
            .await
            .map_err(|e| format!("connect: {e}"))?;
        s.write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
            .await
            .map_err(|e| format!("write: {e}"))?;
        let mut answer = String::new();
        s.read_to_string(&mut answer)
            .await
            .map_err(|e| format!("read: {e}"))?;
        let status = answer
            .get(9..12)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("not HTTP: {answer:?}"))?;
        let body = answer.split("\r\n\r\n").nth(1).unwrap_or("").to_string();
        Ok((status, body))
    };
    tokio::time::timeout(Duration::from_secs(10), asked)
        .await
        .unwrap_or_else(|_| Err("no answer in 10 s".into()))
}

/// Waits until `/healthz` answers `status`; the time it took.
async fn healthz_turns(port: u16, status: u16, limit: Duration) -> Option<(Duration, String)> {
    let start = Instant::now();
    while start.elapsed() < limit {
        if let Ok((s, body)) = healthz(port).await
            && s == status
        {
            return Some((start.elapsed(), body));
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    None
}

/// Sends SIGTERM and waits; the time the daemon took to exit.
async fn stop(daemon: &mut Daemon, within: Duration) -> Option<Duration> {
    let asked = Instant::now();
    daemon.terminate();
    daemon.exited_within(within).await.map(|_| asked.elapsed())
}

/// At least `n` open files for this process (the flood needs more than 1,024).
fn allow_open_files(n: u64) {
    let soft = rlimit::increase_nofile_limit(n).unwrap_or(0);
    if soft < n {
        // As root the hard limit can be raised too.
        let _ = rlimit::setrlimit(rlimit::Resource::NOFILE, n, n);
    }
    let (soft, _) = rlimit::getrlimit(rlimit::Resource::NOFILE).unwrap();
    assert!(
        soft >= n,
        "this test needs {n} open files, the limit is {soft}"
    );
}

/// How the flood went.
#[derive(Default)]
struct Flood {
    open: AtomicUsize,
    connects: AtomicUsize,
    refused: AtomicUsize,
    stop: AtomicBool,
}

/// `n` clients that each send a request line and then one header byte a second, never
/// ending the header; a client whose connection is closed connects again.
fn flood(port: u16, n: usize) -> Arc<Flood> {
    let flood = Arc::new(Flood::default());
    for _ in 0..n {
        let flood = Arc::clone(&flood);
        tokio::spawn(async move {
            while !flood.stop.load(Ordering::Relaxed) {
                let Ok(mut s) = slow_client(port).await else {
                    flood.refused.fetch_add(1, Ordering::Relaxed);
                    tokio::time::sleep(Duration::from_millis(200)).await;
                    continue;
                };
                flood.connects.fetch_add(1, Ordering::Relaxed);
                flood.open.fetch_add(1, Ordering::Relaxed);
                let mut sent = s.write_all(b"GET /healthz HTTP/1.1\r\nX-Slow: ").await;
                while sent.is_ok() && !flood.stop.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_secs(1)).await;
                    sent = s.write_all(b"a").await;
                }
                flood.open.fetch_sub(1, Ordering::Relaxed);
            }
        });
    }
    flood
}

/// A connection to the daemon from 127.0.0.2: the flood's thousands of connections take
/// their local ports there, never one that another test's `free_port` handed out on
/// 127.0.0.1 for its daemon to listen on.
async fn slow_client(port: u16) -> std::io::Result<TcpStream> {
    let socket = tokio::net::TcpSocket::new_v4()?;
    socket.bind("127.0.0.2:0".parse().unwrap())?;
    socket.connect(([127, 0, 0, 1], port).into()).await
}

/// A step `s2` on `mail` for everyone, due a minute ago, appended to the campaign file.
fn add_step(campaign: &Path) {
    let t = (Utc::now() - Days::minutes(1)).with_timezone(&Ho_Chi_Minh);
    let at = format!("{} {:02}:{:02}", t.date_naive(), t.hour(), t.minute());
    let mut yaml = std::fs::read_to_string(campaign).unwrap();
    yaml.push_str(&format!(
        "  - id: s2\n    audience: people\n    channel: [mail]\n    template: note\n    \
         send: {{ at: \"{at}\" }}\n"
    ));
    std::fs::write(campaign, yaml).unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn healthz_and_sending_hold_under_1100_slow_connections_with_1024_files() {
    const N: usize = 200;
    const SLOW: usize = 1_100;
    allow_open_files(4_096);
    let sink = SmtpSink::start().await;
    let ws = CampaignBuilder::new(N)
        .smtp("mail", &sink.url(), &["rate: 50/s"])
        .step("s1", &["mail"])
        .build();
    let port = free_port();
    let mut daemon = Daemon::serving_limited(&ws, &Tuning::default(), port, &[], 1_024);
    let up = healthz_turns(port, 200, Duration::from_secs(30)).await;
    assert!(up.is_some(), "not up:\n{}", log_tail(&ws, 30));

    let flood = flood(port, SLOW);
    let began = Instant::now();
    // Every slow client connected once (or was refused) before the probes start.
    until(
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async {
            flood.connects.load(Ordering::Relaxed) + flood.refused.load(Ordering::Relaxed) >= SLOW
        },
    )
    .await;
    let mut added = false;
    let (mut probes, mut slowest, mut failures) = (0, Duration::ZERO, Vec::new());
    // Probe for 20 s; 5 s in, a new step is loaded, enqueued (reading the data file) and
    // sent, all under the flood.
    let probing = Instant::now();
    while probing.elapsed() < Duration::from_secs(20) {
        if !added && probing.elapsed() >= Duration::from_secs(5) {
            add_step(&ws.root().join("campaigns/rel.yaml"));
            added = true;
        }
        let asked = Instant::now();
        let answer = healthz(port).await;
        let took = asked.elapsed();
        probes += 1;
        slowest = slowest.max(took);
        match answer {
            Ok((200, _)) if took <= Duration::from_secs(2) => {}
            other => failures.push(format!(
                "{:.1} s into the flood: {other:?} after {took:?}",
                began.elapsed().as_secs_f64()
            )),
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    let sent_all = until(
        Duration::from_secs(60),
        Duration::from_millis(200),
        || async { sink.received_count() >= 2 * N },
    )
    .await;
    println!(
        "flood of {SLOW}: {} connections made, {} open now, {} refused; {probes} probes, \
         slowest {slowest:?}; {} of {} messages received",
        flood.connects.load(Ordering::Relaxed),
        flood.open.load(Ordering::Relaxed),
        flood.refused.load(Ordering::Relaxed),
        sink.received_count(),
        2 * N
    );
    assert!(
        failures.is_empty(),
        "/healthz failed {} of {probes} times under the flood: {:?}\n{}",
        failures.len(),
        &failures[..failures.len().min(5)],
        log_tail(&ws, 20)
    );
    assert!(
        sent_all,
        "not all sent under the flood:\n{}",
        log_tail(&ws, 30)
    );
    let log = std::fs::read_to_string(ws.log()).unwrap();
    assert!(
        !log.contains("os error 24") && !log.contains("Too many open files"),
        "the daemon ran out of files:\n{}",
        log_tail(&ws, 30)
    );

    // SIGTERM while the flood goes on.
    let stopped = stop(&mut daemon, Duration::from_secs(15)).await;
    println!("stopped under the flood in {stopped:?}");
    flood.stop.store(true, Ordering::Relaxed);
    assert!(
        stopped.is_some(),
        "still running 15 s after SIGTERM under the flood:\n{}",
        log_tail(&ws, 20)
    );
}

/// A tmpfs of `size` mounted on a new folder, unmounted when dropped.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    /// None when this process may not mount (the test needs root, as in CI).
    fn mount(size: &str) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"])
            .arg(dir.path())
            .status()
            .is_ok_and(|s| s.success());
        mounted.then_some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Fills the disk to the last byte with a file of its own; returns the file.
    fn fill(&self) -> PathBuf {
        use std::io::Write as _;
        let path = self.path().join("filler");
        let mut file = std::fs::File::create(&path).unwrap();
        for chunk in [1 << 20, 4096, 1] {
            let bytes = vec![0u8; chunk];
            while file.write_all(&bytes).and_then(|()| file.flush()).is_ok() {}
        }
        path
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .args(["-l"])
            .arg(self.dir.path())
            .status();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_ledger_disk_is_reported_at_once_and_sending_resumes_when_space_returns() {
    const N: usize = 1_000;
    let Some(disk) = SmallDisk::mount("64m") else {
        eprintln!("SKIPPED: mounting a small tmpfs needs root (CI runs as root)");
        return;
    };
    let sink = SmtpSink::start().await;
    let ws = CampaignBuilder::new(N)
        .smtp("mail", &sink.url(), &["rate: 25/s"])
        .step("s1", &["mail"])
        .build();
    let db = disk.path().join("loa.db");
    let url = format!("sqlite://{}", db.display());
    let env = [("LOA_DATABASE_URL", url.as_str())];
    let tuning = Tuning::default();
    let port = free_port();
    let mut daemon = Daemon::serving_with(&ws, &tuning, port, &env);
    let sending = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { sink.received_count() >= 50 },
    )
    .await;
    assert!(sending, "not sending:\n{}", log_tail(&ws, 30));
    assert_eq!(healthz(port).await.map(|a| a.0), Ok(200));

    // The disk fills: /healthz says so within 5 s, with the reason.
    let filler = disk.fill();
    let full = healthz_turns(port, 503, Duration::from_secs(15)).await;
    let Some((to_503, reason)) = full else {
        panic!(
            "/healthz still 200 15 s after the disk filled:\n{}",
            log_tail(&ws, 20)
        );
    };
    println!(
        "disk full: /healthz 503 after {to_503:?}: {}",
        reason.trim()
    );
    assert!(
        to_503 <= Duration::from_secs(5),
        "503 only after {to_503:?}"
    );
    assert!(
        reason.contains("cannot be written") && reason.contains("full"),
        "{reason}"
    );
    // It stays 503 while the disk is full (a write that changes nothing proves nothing).
    let mut answers = Vec::new();
    for _ in 0..12 {
        tokio::time::sleep(Duration::from_millis(250)).await;
        answers.push(healthz(port).await.map(|a| a.0));
    }
    assert!(answers.iter().all(|a| *a == Ok(503)), "{answers:?}");
    assert!(daemon.exited_within(Duration::ZERO).await.is_none());

    // The sends whose outcomes the full disk refused stay leased; they go again once
    // space returns, and are the first of the messages in flight that may repeat.
    let leased_while_full = ledger::leased(&db).await.len();
    // Space returns: sending resumes within 10 s, and /healthz is 200 again.
    let before = sink.received_count();
    std::fs::remove_file(&filler).unwrap();
    let freed = Instant::now();
    let resumed = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { sink.received_count() > before },
    )
    .await;
    let to_send = freed.elapsed();
    let healthy = healthz_turns(port, 200, Duration::from_secs(30)).await;
    println!(
        "space back: sending again after {to_send:?}, /healthz 200 after {:?}",
        healthy.as_ref().map(|h| h.0)
    );
    assert!(
        resumed,
        "no send after space returned:\n{}",
        log_tail(&ws, 30)
    );
    assert!(
        to_send <= Duration::from_secs(10),
        "sent again only after {to_send:?}"
    );
    assert!(healthy.is_some_and(|(t, _)| t <= Duration::from_secs(10)));

    // Full again, and SIGTERM while it is: the daemon stops within 15 s.
    let filler = disk.fill();
    assert!(
        healthz_turns(port, 503, Duration::from_secs(15))
            .await
            .is_some()
    );
    let stopped = stop(&mut daemon, Duration::from_secs(15)).await;
    println!("stopped with the disk full in {stopped:?}");
    assert!(
        stopped.is_some(),
        "still running 15 s after SIGTERM with the disk full:\n{}",
        log_tail(&ws, 20)
    );
    std::fs::remove_file(&filler).unwrap();
    let leased_at_stop = ledger::leased(&db).await.len();

    // Restarted with room: SIGTERM while sending normally stops it within 15 s too, and
    // a last run sends the rest — each recipient at least once, none more than twice,
    // the second copies no more than the messages that were in flight.
    let mut daemon = Daemon::serving_with(&ws, &tuning, port, &env);
    let at = sink.received_count();
    until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { sink.received_count() >= at + 25 },
    )
    .await;
    let stopped = stop(&mut daemon, Duration::from_secs(15)).await;
    println!("stopped while sending in {stopped:?}");
    assert!(
        stopped.is_some(),
        "still running 15 s after SIGTERM:\n{}",
        log_tail(&ws, 20)
    );
    // Sends this stop left in flight (outcomes not recorded within the stop's bound on a
    // loaded machine) may repeat too: they are the other messages in flight.
    let leased_at_second_stop = ledger::leased(&db).await.len();
    let _daemon = Daemon::serving_with(&ws, &tuning, port, &env);
    let done = until(
        Duration::from_secs(120),
        Duration::from_millis(200),
        || async { ledger::ready(&db).await && ledger::open(&db).await == 0 },
    )
    .await;
    assert!(done, "not finished:\n{}", log_tail(&ws, 30));
    let states = ledger::counts(&db).await;
    assert_eq!(states.get("sent").copied(), Some(N as i64), "{states:?}");
    let mut copies: HashMap<String, usize> = HashMap::new();
    for m in sink.received() {
        for to in m.to {
            *copies.entry(to).or_default() += 1;
        }
    }
    let twice = copies.values().filter(|&&n| n == 2).count();
    println!(
        "{} recipients reached, {twice} twice ({leased_while_full} leased while first full, \
         {leased_at_stop} when stopped full, {leased_at_second_stop} when stopped sending)",
        copies.len()
    );
    assert_eq!(copies.len(), N);
    assert!(
        copies.values().all(|&n| n <= 2),
        "a recipient got three copies"
    );
    assert!(
        twice <= leased_while_full + leased_at_stop + leased_at_second_stop,
        "{twice} second copies"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_stops_the_daemon_within_15_s_while_outcomes_cannot_be_recorded() {
    const N: usize = 400;
    let Some(disk) = SmallDisk::mount("64m") else {
        eprintln!("SKIPPED: mounting a small tmpfs needs root (CI runs as root)");
        return;
    };
    // Every answer takes 300 ms, so sends are always in flight when the disk fills.
    let sink = HttpSink::start().await;
    sink.script(
        "/hook",
        vec![Answer::status(200).after(Duration::from_millis(300)); 2 * N],
    );
    let ws = CampaignBuilder::new(N)
        .webhook("hook", &sink.url("/hook"), &[])
        .step("s1", &["hook"])
        .build();
    let db = disk.path().join("loa.db");
    let url = format!("sqlite://{}", db.display());
    let env = [("LOA_DATABASE_URL", url.as_str())];
    let tuning = Tuning::default();
    let port = free_port();
    let mut daemon = Daemon::serving_with(&ws, &tuning, port, &env);
    let sending = until(
        Duration::from_secs(30),
        Duration::from_millis(50),
        || async { sink.requests_to("/hook").len() >= 20 },
    )
    .await;
    assert!(sending, "not sending:\n{}", log_tail(&ws, 30));
    let filler = disk.fill();
    assert!(
        healthz_turns(port, 503, Duration::from_secs(15))
            .await
            .is_some(),
        "no 503 with the disk full:\n{}",
        log_tail(&ws, 20)
    );
    // The sends in flight end; their outcomes cannot be written.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let unrecorded = ledger::leased(&db).await.len();
    assert!(unrecorded > 0, "nothing in flight when the disk filled");
    let stopped = stop(&mut daemon, Duration::from_secs(15)).await;
    println!("stopped with {unrecorded} outcomes unrecorded in {stopped:?}");
    assert!(
        stopped.is_some(),
        "still running 15 s after SIGTERM with outcomes it cannot record:\n{}",
        log_tail(&ws, 20)
    );

    // With room again, a restart sends the rest; what was not recorded goes at most once
    // more.
    std::fs::remove_file(&filler).unwrap();
    let _daemon = Daemon::serving_with(&ws, &tuning, port, &env);
    let done = until(
        Duration::from_secs(120),
        Duration::from_millis(200),
        || async { ledger::ready(&db).await && ledger::open(&db).await == 0 },
    )
    .await;
    assert!(done, "not finished:\n{}", log_tail(&ws, 30));
    let states = ledger::counts(&db).await;
    assert_eq!(states.get("sent").copied(), Some(N as i64), "{states:?}");
    let mut copies: HashMap<String, usize> = HashMap::new();
    for r in sink.requests_to("/hook") {
        let key = r.header("idempotency-key").unwrap_or("").to_string();
        *copies.entry(key).or_default() += 1;
    }
    let twice = copies.values().filter(|&&n| n == 2).count();
    println!("{} messages received, {twice} twice", copies.len());
    assert_eq!(copies.len(), N);
    assert!(
        copies.values().all(|&n| n <= 2),
        "a message went three times"
    );
    assert!(
        twice <= unrecorded,
        "{twice} second copies, {unrecorded} unrecorded"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_daemon_is_healthy_again_once_its_ledger_takes_writes() {
    use sqlx::Connection as _;
    let sink = SmtpSink::start().await;
    let ws = CampaignBuilder::new(5)
        .smtp("mail", &sink.url(), &[])
        .step("s1", &["mail"])
        .build();
    let db = ws.db();
    // On a port of the system's choosing: a port from `free_port` can be taken by another
    // test's server before the daemon binds it, and /healthz then asks that server.
    let daemon = Daemon::start(&ws, &Tuning::default(), None);
    let port = daemon
        .listening_port(&ws, Duration::from_secs(30))
        .await
        .unwrap_or_else(|| panic!("no HTTP port in the log:\n{}", log_tail(&ws, 20)));
    let idle = until(
        Duration::from_secs(30),
        Duration::from_millis(100),
        || async { ledger::ready(&db).await && ledger::open(&db).await == 0 },
    )
    .await;
    assert!(idle, "not done:\n{}", log_tail(&ws, 30));
    // Another process holds the ledger's write lock longer than the daemon waits for it
    // (5 s): the daemon's next write fails and /healthz says so.
    let mut other = sqlx::sqlite::SqliteConnection::connect(&format!("sqlite://{}", db.display()))
        .await
        .unwrap();
    sqlx::query("BEGIN IMMEDIATE")
        .execute(&mut other)
        .await
        .unwrap();
    let locked = healthz_turns(port, 503, Duration::from_secs(20)).await;
    sqlx::query("ROLLBACK").execute(&mut other).await.unwrap();
    let released = Instant::now();
    let Some((_, reason)) = locked else {
        panic!(
            "no 503 while the ledger was locked ({:?}):\n{}",
            healthz(port).await,
            log_tail(&ws, 20)
        );
    };
    println!("locked: /healthz 503: {}", reason.trim());
    assert!(reason.contains("locked"), "{reason}");
    // Nothing else to write: the daemon checks by itself and is healthy again.
    let healthy = healthz_turns(port, 200, Duration::from_secs(20)).await;
    println!(
        "lock released: /healthz 200 after {:?}",
        healthy.as_ref().map(|_| released.elapsed())
    );
    assert!(
        healthy.is_some_and(|(t, _)| t <= Duration::from_secs(10)),
        "still 503 after the lock was released:\n{}",
        log_tail(&ws, 20)
    );
}

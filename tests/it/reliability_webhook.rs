//! R6 (docs/reliability.md#r6): HTTP status handling through the daemon, against the axum sink
//! on loopback. Each webhook channel points at a scripted path; one recipient per step unless
//! said otherwise. Retries run at base 1 s, ×2, cap 30 s, jitter ±20 %.

use std::time::Duration;

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, log_tail, until};
use crate::support::http_sink::{Answer, HttpSink, Request};
use crate::support::ledger::{self, Message};
use crate::support::workspace::Workspace;

/// The daemon on a campaign with one step per `(channel, path, extra YAML)`, each to the
/// first `people` recipients.
async fn run(
    sink: &HttpSink,
    channels: &[(&str, &str, &[&str])],
    people: usize,
    tuning: &Tuning,
) -> (Workspace, Daemon) {
    let mut b = CampaignBuilder::new(people);
    for (name, path, extra) in channels {
        b = b
            .webhook(name, &sink.url(path), extra)
            .step(&format!("to-{name}"), &[name]);
    }
    let ws = b.build();
    let d = Daemon::start(&ws, tuning, None);
    (ws, d)
}

fn tuning() -> Tuning {
    Tuning {
        lease: "30s",
        ..Tuning::default()
    }
}

async fn wait_requests(sink: &HttpSink, path: &str, n: usize, limit: Duration) -> Vec<Request> {
    until(limit, Duration::from_millis(20), || async {
        sink.requests_to(path).len() >= n
    })
    .await;
    sink.requests_to(path)
}

async fn message_of(ws: &Workspace, channel: &str) -> Message {
    ledger::messages(&ws.db())
        .await
        .into_iter()
        .find(|m| m.channel == channel)
        .expect("a row on the channel")
}

/// Waits until the row of `channel` is in a final state.
async fn settled(ws: &Workspace, channel: &str, limit: Duration) -> Message {
    let db = ws.db();
    let ok = until(limit, Duration::from_millis(50), || async {
        ledger::ready(&db).await
            && ledger::messages(&db).await.iter().any(|m| {
                m.channel == channel && !["pending", "sending"].contains(&m.state.as_str())
            })
    })
    .await;
    assert!(ok, "{channel} never settled:\n{}", log_tail(ws, 30));
    message_of(ws, channel).await
}

fn keys(reqs: &[Request]) -> Vec<&str> {
    reqs.iter()
        .map(|r| r.header("idempotency-key").unwrap_or(""))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_429_is_retried_no_sooner_than_its_retry_after_and_at_most_2_seconds_later() {
    let sink = HttpSink::start().await;
    let seconds = Answer::status(429).header("Retry-After", "3");
    let date = Answer::status(429).retry_at(Duration::from_secs(5));
    // Answered 1.5 s after the request: the 3 s count from the answer, not the request.
    let slow = Answer::status(429)
        .header("Retry-After", "3")
        .after(Duration::from_millis(1500));
    sink.script("/seconds", vec![seconds, Answer::status(200)]);
    sink.script("/date", vec![date, Answer::status(200)]);
    sink.script("/slow", vec![slow, Answer::status(200)]);
    let cases = [
        ("seconds", "/seconds"),
        ("date", "/date"),
        ("slow", "/slow"),
    ];
    let channels: Vec<(&str, &str, &[&str])> =
        cases.iter().map(|(c, p)| (*c, *p, &[][..])).collect();
    let (ws, d) = run(&sink, &channels, 1, &tuning()).await;
    for (channel, path) in cases {
        let m = settled(&ws, channel, Duration::from_secs(30)).await;
        let reqs = sink.requests_to(path);
        let answer = &sink.answered(path)[0];
        let named = answer.retry_after.expect("a Retry-After");
        let next = reqs[1].at;
        let after = next.saturating_duration_since(named).as_secs_f64();
        let early = named.saturating_duration_since(next).as_secs_f64();
        println!(
            "R6 429 Retry-After ({channel}): next request {} s after the named instant \
             ({:.2} s after the answer); keys {:?}; state {} after {} tries",
            if early > 0.0 {
                format!("-{early:.3}")
            } else {
                format!("{after:.3}")
            },
            next.duration_since(answer.at).as_secs_f64(),
            keys(&reqs),
            m.state,
            m.attempts
        );
        assert_eq!(reqs.len(), 2, "{channel}");
        assert!(
            next >= named,
            "{channel}: retried {early:.3} s before Retry-After"
        );
        assert!(
            after <= 2.0,
            "{channel}: retried {after:.3} s after Retry-After"
        );
        assert_eq!(
            keys(&reqs),
            [m.message_id.as_str(); 2],
            "{channel}: one key"
        );
        assert_eq!((m.state.as_str(), m.attempts), ("sent", 2), "{channel}");
    }
    drop(d);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_500_twice_then_200_is_delivered_after_backoff_with_one_idempotency_key() {
    let sink = HttpSink::start().await;
    sink.script(
        "/flaky",
        vec![
            Answer::status(500),
            Answer::status(500),
            Answer::status(200),
        ],
    );
    let (ws, d) = run(&sink, &[("flaky", "/flaky", &[])], 1, &tuning()).await;
    let m = settled(&ws, "flaky", Duration::from_secs(30)).await;
    drop(d);
    let reqs = sink.requests_to("/flaky");
    let answers = sink.answered("/flaky");
    let gaps: Vec<f64> = (1..reqs.len())
        .map(|i| reqs[i].at.duration_since(answers[i - 1].at).as_secs_f64())
        .collect();
    println!(
        "R6 500, 500, 200: {} requests, gaps after each failure {gaps:.3?} s (backoff 1 s, 2 s \
         ±20 %); state {} after {} tries; keys {:?}",
        reqs.len(),
        m.state,
        m.attempts,
        keys(&reqs)
    );
    assert_eq!((m.state.as_str(), m.attempts, reqs.len()), ("sent", 3, 3));
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [500, 500, 200]);
    assert!(
        gaps[0] >= 0.8 && gaps[0] <= 1.2 + 1.0,
        "first retry {:.3}",
        gaps[0]
    );
    assert!(
        gaps[1] >= 1.6 && gaps[1] <= 2.4 + 1.0,
        "second retry {:.3}",
        gaps[1]
    );
    assert_eq!(keys(&reqs), [m.message_id.as_str(); 3]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_410_fails_the_message_and_a_302_is_not_followed() {
    let sink = HttpSink::start().await;
    let (ws, d) = run(
        &sink,
        &[("gone", "/gone", &[]), ("moved", "/redirect", &[])],
        1,
        &tuning(),
    )
    .await;
    let gone = settled(&ws, "gone", Duration::from_secs(30)).await;
    let moved = settled(&ws, "moved", Duration::from_secs(30)).await;
    // Long enough for a retry at base 1 s, had there been one.
    tokio::time::sleep(Duration::from_secs(3)).await;
    drop(d);
    let attempts = ledger::attempts(&ws.db()).await;
    println!(
        "R6 410: {} request(s), state {} code {:?}; 302: {} request(s), state {} code {:?}, \
         canary connections {}; attempts {:?}",
        sink.requests_to("/gone").len(),
        gone.state,
        gone.last_code,
        sink.requests_to("/redirect").len(),
        moved.state,
        moved.last_code,
        sink.canary_connections(),
        attempts
            .iter()
            .map(|a| (a.outcome.as_str(), a.code.as_deref()))
            .collect::<Vec<_>>()
    );
    assert_eq!(
        sink.requests_to("/gone").len(),
        1,
        "no request after the 410"
    );
    assert_eq!(
        (gone.state.as_str(), gone.last_code.as_deref()),
        ("failed", Some("410"))
    );
    assert_eq!(sink.requests_to("/redirect").len(), 1);
    assert_eq!(
        (moved.state.as_str(), moved.last_code.as_deref()),
        ("failed", Some("302"))
    );
    assert_eq!(sink.canary_connections(), 0, "the redirect was followed");
    assert!(attempts.iter().all(|a| a.outcome == "permanent"));
    assert!(sink.requests().iter().all(|r| r.path != "/stolen"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_endpoint_is_abandoned_at_the_channel_timeout() {
    let sink = HttpSink::start().await;
    let (ws, d) = run(&sink, &[("hung", "/hang", &["timeout: 2s"])], 1, &tuning()).await;
    let db = ws.db();
    let tried = until(
        Duration::from_secs(20),
        Duration::from_millis(50),
        || async { ledger::ready(&db).await && !ledger::attempts(&db).await.is_empty() },
    )
    .await;
    assert!(tried, "no attempt recorded:\n{}", log_tail(&ws, 30));
    let a = ledger::attempts(&db).await[0].clone();
    let m = message_of(&ws, "hung").await;
    drop(d);
    println!(
        "R6 hung endpoint, timeout 2 s: the try lasted {} ms, outcome {} ({:?}); message {} \
         for a retry",
        a.duration_ms, a.outcome, a.error, m.state,
    );
    assert!(
        (1000..=3000).contains(&a.duration_ms),
        "aborted after {} ms",
        a.duration_ms
    );
    assert_eq!(a.outcome, "transient");
    assert!(
        a.error
            .as_deref()
            .unwrap_or("")
            .contains("did not answer within 2 s")
    );
}

/// How long after the first request to either path each path's requests came.
fn spread(sink: &HttpSink, throttled: &str, fast: &str) -> (f64, f64) {
    let t = sink.requests_to(throttled);
    let f = sink.requests_to(fast);
    let first = t.iter().chain(&f).map(|r| r.at).min().expect("requests");
    let last = |rs: &[Request]| {
        rs.iter()
            .map(|r| r.at.duration_since(first).as_secs_f64())
            .fold(0.0, f64::max)
    };
    (last(&t), last(&f))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_answering_429_does_not_delay_another_channel() {
    const N: usize = 20;
    let sink = HttpSink::start().await;
    let throttle = Answer::status(429).header("Retry-After", "3");
    sink.script("/throttled", vec![throttle; 10 * N]);
    let (ws, d) = run(
        &sink,
        &[("throttled", "/throttled", &[]), ("fast", "/ok", &[])],
        N,
        &tuning(),
    )
    .await;
    let got = wait_requests(&sink, "/ok", N, Duration::from_secs(30)).await;
    let (t, f) = spread(&sink, "/throttled", "/ok");
    drop(d);
    println!(
        "R6 throttled (429, Retry-After 3) beside a healthy channel: {} healthy requests, the \
         last {f:.2} s after the first request; throttled requests so far {} (last at {t:.2} s)",
        got.len(),
        sink.requests_to("/throttled").len()
    );
    assert_eq!(got.len(), N, "{}", log_tail(&ws, 20));
    assert!(f <= 1.0, "the healthy channel took {f:.2} s");
}

/// Each channel claims for its own free slots, so a slow channel never holds back another
/// (no head-of-line blocking, docs/reliability.md#r6).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_slow_endpoint_does_not_delay_another_channel() {
    const N: usize = 40;
    let sink = HttpSink::start().await;
    let slow = Answer::status(200).after(Duration::from_millis(1000));
    sink.script("/slow-ok", vec![slow; N]);
    // The slow channel's few sends are all waiting on it for most of the run.
    let (ws, d) = run(
        &sink,
        &[
            ("slow", "/slow-ok", &["concurrency: 4"]),
            ("fast", "/ok", &[]),
        ],
        N,
        &tuning(),
    )
    .await;
    let got = wait_requests(&sink, "/ok", N, Duration::from_secs(60)).await;
    let (s, f) = spread(&sink, "/slow-ok", "/ok");
    drop(d);
    println!(
        "R6 slow endpoint (1 s per answer, 4 in flight) beside a healthy channel: the healthy \
         channel's {} requests ended {f:.2} s after the first request, the slow one's at {s:.2} s",
        got.len()
    );
    assert_eq!(got.len(), N, "{}", log_tail(&ws, 20));
    assert!(f <= 2.0, "the healthy channel took {f:.2} s");
}

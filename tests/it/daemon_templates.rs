//! Templates that would stall or crash the daemon (issue 14, item 11): recursion is
//! refused before anything runs, and a template that runs too long fails its own messages
//! with the reason while the daemon keeps answering `/healthz`, sends the other step and
//! stops on SIGTERM.

use std::time::{Duration, Instant};

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, log_tail};
use crate::support::ledger;
use crate::support::smtp_sink::SmtpSink;
use crate::support::workspace::Workspace;

/// `{% for %}` inside `{% for %}`, 100,000 turns each.
const NESTED_LOOPS: &str = "{% for i in range(end=100000) %}{% for j in range(end=100000) %}\
                            {% endfor %}{% endfor %}Xin chào";

/// Two steps on one SMTP channel: `slow` renders the template `slow`, `s2` the good `note`.
fn two_steps(sink: &SmtpSink, slow_text: &str) -> Workspace {
    let ws = CampaignBuilder::new(3)
        .smtp("mail", &sink.url(), &[])
        .step("slow", &["mail"])
        .step("s2", &["mail"])
        .build();
    let yaml = ws.root().join("campaigns/rel.yaml");
    let text = std::fs::read_to_string(&yaml).expect("campaign");
    std::fs::write(&yaml, text.replacen("template: note", "template: slow", 1)).expect("write");
    let dir = ws.root().join("templates/slow");
    std::fs::create_dir_all(&dir).expect("mkdir");
    std::fs::write(dir.join("subject.tera"), "BHYT").expect("write");
    std::fs::write(dir.join("text.tera"), slow_text).expect("write");
    ws
}

fn loa(ws: &Workspace, args: &[&str]) -> std::process::Output {
    ws.loa(args).0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_template_that_includes_itself_fails_validate_with_its_line_and_crashes_nothing() {
    let sink = SmtpSink::start().await;
    let ws = two_steps(&sink, "Xin chào\n{% include \"slow/text.tera\" %}\n");
    let validate = loa(&ws, &["validate", "campaigns/rel.yaml"]);
    let out = String::from_utf8_lossy(&validate.stdout).to_string()
        + &String::from_utf8_lossy(&validate.stderr);
    assert_eq!(validate.status.code(), Some(1), "{out}");
    assert!(out.contains("slow/text.tera:2"), "{out}");
    assert!(out.contains("refers to itself"), "{out}");
    // simulate stops on the same error instead of dying of a stack overflow (a signal).
    let simulate = loa(&ws, &["simulate", "campaigns/rel.yaml"]);
    let out = String::from_utf8_lossy(&simulate.stderr).to_string();
    assert!(
        simulate.status.code().is_some(),
        "killed by a signal: {out}"
    );
    assert_ne!(simulate.status.code(), Some(0), "{out}");
    assert!(out.contains("refers to itself"), "{out}");
    assert_eq!(sink.received_count(), 0);
}

/// Found by the `template` fuzz target: a tag of unclosed calls made Tera's parser backtrack
/// for longer than 10 s (each level about doubles the time). Refused before parsing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_of_brackets_nested_too_deep_is_refused_at_its_line_before_parsing() {
    let sink = SmtpSink::start().await;
    let tag = format!("{{{{ho(el={}S%}}", "sss~___amho(el=".repeat(14));
    let ws = two_steps(&sink, &format!("Xin chào\n{tag}\n"));
    let validate = loa(&ws, &["validate", "campaigns/rel.yaml"]);
    let out = String::from_utf8_lossy(&validate.stdout).to_string()
        + &String::from_utf8_lossy(&validate.stderr);
    assert_eq!(validate.status.code(), Some(1), "{out}");
    assert!(out.contains("slow/text.tera:2"), "{out}");
    assert!(out.contains("nested more than 8 deep"), "{out}");
    assert_eq!(sink.received_count(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_runaway_loop_fails_its_messages_while_healthz_answers_and_sigterm_stops_the_daemon() {
    let sink = SmtpSink::start().await;
    let ws = two_steps(&sink, NESTED_LOOPS);
    let mut daemon = Daemon::start(&ws, &Tuning::default(), None);
    let port = daemon.port(&ws).await;
    let http = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .expect("client");
    let healthz = format!("http://127.0.0.1:{port}/healthz");
    let (mut answered, mut unanswered) = (0, 0);
    let started = Instant::now();
    let mut settled = false;
    while started.elapsed() < Duration::from_secs(90) {
        let up = http.get(&healthz).send().await.is_ok();
        if up {
            answered += 1;
        } else if answered > 0 {
            // Not up yet counts for nothing; silence once it answered does.
            unanswered += 1;
        }
        if ledger::ready(&ws.db()).await {
            let messages = ledger::messages(&ws.db()).await;
            let done = |step: &str, state: &str| {
                messages
                    .iter()
                    .filter(|m| m.step == step && m.state == state)
                    .count()
            };
            if done("slow", "failed") == 3 && done("s2", "sent") == 3 {
                settled = true;
                break;
            }
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    println!(
        "runaway loop: healthz answered {answered}, unanswered {unanswered}, settled {settled} \
         after {:?}",
        started.elapsed()
    );
    assert!(settled, "messages did not settle:\n{}", log_tail(&ws, 30));
    assert_eq!(unanswered, 0, "healthz stopped answering");
    assert_eq!(sink.received_count(), 3, "the good step's messages");
    let attempts = ledger::attempts(&ws.db()).await;
    let slow: Vec<_> = attempts
        .iter()
        .filter(|a| a.outcome == "permanent" && a.error.as_deref().unwrap_or("").contains("slow"))
        .collect();
    assert_eq!(slow.len(), 3, "{attempts:#?}");
    for a in &slow {
        let error = a.error.as_deref().unwrap_or("");
        assert!(
            error.contains("loop turns") || error.contains("longer than"),
            "{error}"
        );
    }
    daemon.terminate();
    let exited = daemon.exited_within(Duration::from_secs(15)).await;
    assert!(exited.is_some(), "SIGTERM did not stop the daemon");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn preview_of_a_runaway_loop_stops_with_the_reason() {
    let sink = SmtpSink::start().await;
    let ws = two_steps(&sink, NESTED_LOOPS);
    let started = Instant::now();
    let args = [
        "preview",
        "campaigns/rel.yaml",
        "--step",
        "slow",
        "--recipient",
        "r0",
    ];
    let out = ws.loa_within(&args, &[], Duration::from_secs(60)).0;
    let status = out.status;
    let stderr = String::from_utf8_lossy(&out.stderr);
    println!(
        "preview of the runaway loop: {status} after {:?}",
        started.elapsed()
    );
    assert!(!status.success(), "{stderr}");
    assert!(stderr.contains("slow/text.tera"), "{stderr}");
    assert!(
        stderr.contains("loop turns") || stderr.contains("longer than"),
        "{stderr}"
    );
}

//! How the command line behaves around the commands (issue 20, "CLI manners"): a command's
//! own options may come before its name as well as after it, and a reader that stops early
//! (`loa plan … | head`) ends the command quietly, with no "Broken pipe" error or panic.

use std::fs::File;
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{log_tail, until};
use crate::support::ledger;
use crate::support::smtp_sink::SmtpSink;
use crate::support::workspace::{EXAMPLE, Workspace, clear_loa_env};

const CAMPAIGN: &str = "bhyt-hssv-2026-2027";

#[test]
fn a_commands_own_option_before_its_name_means_the_same_as_after_it() {
    let ws = Workspace::example();
    let after = ws.loa(&["plan", EXAMPLE, "--format", "json"]).ok();
    let before = ws.loa(&["--format", "json", "plan", EXAMPLE]).ok();
    assert_eq!(before, after);
    let global_after = ws
        .loa(&[
            "plan",
            EXAMPLE,
            "--format",
            "json",
            "--templates",
            "templates",
        ])
        .ok();
    assert_eq!(global_after, after);
}

#[test]
fn an_option_before_run_is_read_as_runs_own() {
    let ws = Workspace::empty();
    let run = ws.loa(&["--grace-minutes", "soon", "run"]);
    assert_eq!(run.code(), 2, "{}", run.stderr());
    assert!(
        run.stderr()
            .contains("invalid value 'soon' for '--grace-minutes"),
        "{}",
        run.stderr()
    );
}

/// `loa run` with `args`, its output in the workspace's `daemon.log`.
fn daemon(ws: &Workspace, args: &[&str]) -> std::process::Child {
    let log = File::create(ws.log()).expect("daemon log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loa"));
    clear_loa_env(&mut cmd);
    cmd.current_dir(ws.root())
        .args(args)
        .env("LOA_POLL", "200ms")
        // This tests the grace, not four-eyes approval: off, as in support::daemon.
        .env("LOA_APPROVAL", "off")
        .stdin(Stdio::null())
        .stdout(log.try_clone().expect("log"))
        .stderr(log);
    cmd.spawn().expect("start loa run")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn grace_minutes_before_run_is_the_daemons_grace() {
    for args in [
        ["--grace-minutes", "5", "--listen", "127.0.0.1:0", "run"],
        ["--listen", "127.0.0.1:0", "run", "--grace-minutes", "5"],
    ] {
        let sink = SmtpSink::start().await;
        // Due 30 minutes ago: enqueued within the default grace of 60 minutes, missed
        // within 5.
        let ws = CampaignBuilder::new(2)
            .smtp("mail", &sink.url(), &[])
            .step_due("late", &["mail"], 30)
            .step("now", &["mail"])
            .build();
        let mut d = daemon(&ws, &args);
        let rounds_ran = until(
            Duration::from_secs(30),
            Duration::from_millis(50),
            || async { sink.received_count() >= 2 },
        )
        .await;
        tokio::time::sleep(Duration::from_millis(500)).await;
        let _ = d.kill();
        let _ = d.wait();
        assert!(rounds_ran, "{args:?}: {}", log_tail(&ws, 20));
        let occurrences = ledger::occurrences(&ws.db()).await;
        let late = occurrences.iter().find(|o| o.step == "late").expect("late");
        assert!(
            late.missed_at.is_some() && late.enqueued_at.is_none(),
            "{args:?}: the occurrence 30 minutes late is missed with a grace of 5 minutes"
        );
        assert_eq!(sink.received_count(), 2, "{args:?}");
    }
}

/// Runs `loa args` with its stdout a pipe whose reading end is closed before loa writes;
/// returns its exit status and stderr.
fn with_reader_gone(ws: &Workspace, args: &[&str]) -> (std::process::ExitStatus, String) {
    let mut child = spawn(ws, args);
    drop(child.stdout.take());
    let out = child.wait_with_output().expect("wait for loa");
    (
        out.status,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn spawn(ws: &Workspace, args: &[&str]) -> std::process::Child {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_loa"));
    clear_loa_env(&mut cmd);
    cmd.current_dir(ws.root())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start loa")
}

#[test]
fn a_reader_that_stops_early_ends_every_command_that_prints_quietly() {
    let ws = Workspace::example();
    ws.loa(&["simulate", EXAMPLE, "--to", "2026-09-07"]).ok();
    let db = format!("sqlite://outbox/.simulate/{CAMPAIGN}.db");
    let preview = [
        "preview",
        EXAMPLE,
        "--step",
        "parent-notice",
        "--recipient",
        "HS00010",
    ];
    let commands: Vec<Vec<&str>> = vec![
        vec!["plan", EXAMPLE],
        vec!["plan", EXAMPLE, "--format", "json"],
        vec!["plan", EXAMPLE, "--format", "ics"],
        vec!["--database-url", &db, "status"],
        vec!["--database-url", &db, "status", "--format", "json"],
        vec!["--database-url", &db, "report", CAMPAIGN],
        vec![
            "--database-url",
            &db,
            "report",
            CAMPAIGN,
            "--format",
            "json",
        ],
        preview.to_vec(),
        vec!["validate"],
        vec!["simulate", EXAMPLE, "--to", "2026-09-07"],
        vec!["--database-url", &db, "retry", CAMPAIGN],
        vec!["--database-url", &db, "prune", "--days", "30", "--dry-run"],
    ];
    for args in commands {
        let (status, stderr) = with_reader_gone(&ws, &args);
        assert!(
            !stderr.contains("Broken pipe") && !stderr.contains("panicked"),
            "{args:?}: {stderr}"
        );
        assert_eq!(status.code(), Some(0), "{args:?}: {stderr}");
    }
}

/// `loa validate 2>&1 | head`: the reader of both streams goes away while the diagnostics
/// are listed. The command still ends with its own verdict (1: errors), not a panic (101).
#[test]
fn validate_ends_with_its_verdict_when_the_reader_of_its_diagnostics_has_gone() {
    let ws = Workspace::example();
    let campaign = ws.root().join(EXAMPLE);
    let text = std::fs::read_to_string(&campaign).expect("read the example");
    // Unknown fields, each its own error, so there are diagnostics to write after the first.
    let broken: String = (0..50).map(|i| format!("unknown_field_{i}: 1\n")).collect();
    std::fs::write(&campaign, format!("{text}{broken}")).expect("break the example");
    let mut child = spawn(&ws, &["validate"]);
    drop(child.stdout.take());
    drop(child.stderr.take());
    let status = child.wait().expect("wait for loa");
    assert_eq!(status.code(), Some(1), "{status:?}");
}

#[test]
fn plan_draws_no_progress_when_stderr_is_not_a_terminal() {
    let ws = Workspace::example();
    let run = ws.loa(&["plan", EXAMPLE]);
    run.ok();
    assert!(
        !run.stderr().contains("đang đếm") && !run.stderr().contains('\r'),
        "{}",
        run.stderr()
    );
}

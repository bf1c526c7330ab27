//! `status`, `report`, `retry` and `simulate` on the ledger they are given: an unknown
//! campaign or step fails with a suggestion, a ledger that does not exist is not created,
//! and `simulate` refuses a `--database-url` it would not use (issue 14, item 9).

use crate::support::workspace::{EXAMPLE, Workspace};

const CAMPAIGN: &str = "bhyt-hssv-2026-2027";
const SIMULATED: &str = "outbox/.simulate/bhyt-hssv-2026-2027.db";

/// The example simulated up to its first steps; returns the `--database-url` of its ledger.
fn simulated(ws: &Workspace) -> String {
    ws.loa(&["simulate", EXAMPLE, "--to", "2026-09-07"]).ok();
    format!("sqlite://{SIMULATED}")
}

#[test]
fn status_report_and_retry_of_an_unknown_campaign_fail_with_a_suggestion() {
    let ws = Workspace::example();
    let db = simulated(&ws);
    let typo = "bhyt-hssv-2026-2072";
    for args in [
        vec!["status", typo],
        vec!["report", typo],
        vec!["retry", typo],
    ] {
        let mut all = vec!["--database-url", db.as_str()];
        all.extend(args.iter().copied());
        let run = ws.loa(&all);
        assert_eq!(run.code(), 1, "{args:?}: {}", run.stdout());
        assert!(
            run.stderr()
                .contains(&format!("did you mean `{CAMPAIGN}`?")),
            "{args:?}: {}",
            run.stderr()
        );
    }
    let known = ws.loa(&["--database-url", &db, "status", CAMPAIGN]);
    assert!(known.ok().contains("staff-kickoff"), "{}", known.stdout());
}

#[test]
fn retry_of_an_unknown_step_fails_with_a_suggestion() {
    let ws = Workspace::example();
    let db = simulated(&ws);
    let run = ws.loa(&[
        "--database-url",
        &db,
        "retry",
        CAMPAIGN,
        "--step",
        "staff-kickof",
    ]);
    assert_eq!(run.code(), 1, "{}", run.stdout());
    assert!(
        run.stderr().contains("did you mean `staff-kickoff`?"),
        "{}",
        run.stderr()
    );
    ws.loa(&[
        "--database-url",
        &db,
        "retry",
        CAMPAIGN,
        "--step",
        "staff-kickoff",
    ])
    .ok();
}

#[test]
fn status_report_and_retry_without_a_ledger_say_so_and_create_none() {
    let ws = Workspace::example();
    for args in [
        vec!["status"],
        vec!["report", CAMPAIGN],
        vec!["retry", CAMPAIGN],
    ] {
        let run = ws.loa(&args);
        assert_eq!(run.code(), 1, "{args:?}: {}", run.stdout());
        assert!(
            run.stderr().contains("there is no ledger at loa.db"),
            "{args:?}: {}",
            run.stderr()
        );
        assert!(!ws.path("loa.db").exists(), "{args:?} created loa.db");
    }
}

#[test]
fn simulate_refuses_a_database_url_and_prints_where_its_ledger_is() {
    let ws = Workspace::example();
    let refused = ws.loa(&["--database-url", "sqlite://mine.db", "simulate", EXAMPLE]);
    assert_eq!(refused.code(), 1, "{}", refused.stdout());
    assert!(refused.stderr().contains(SIMULATED), "{}", refused.stderr());
    assert!(!ws.path("mine.db").exists());
    assert!(!ws.path(SIMULATED).exists(), "nothing simulated");
    let after = ws.loa(&[
        "simulate",
        EXAMPLE,
        "--to",
        "2026-09-07",
        "--database-url",
        "sqlite://mine.db",
    ]);
    assert_eq!(
        after.code(),
        1,
        "after the subcommand too: {}",
        after.stdout()
    );
    let out = ws
        .loa_with(
            &["simulate", EXAMPLE, "--to", "2026-09-07"],
            &[("LOA_DATABASE_URL", "sqlite://real.db")],
        )
        .ok();
    assert!(out.contains(&format!("sqlite://{SIMULATED}")), "{out}");
    assert!(!ws.path("real.db").exists(), "the real ledger is untouched");
    let help = ws.loa(&["simulate", "--help"]).ok();
    assert!(help.contains(".simulate/<CAMPAIGN>.db"), "{help}");
}

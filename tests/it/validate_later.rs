//! "`validate` says ok, then it fails later": each problem that `plan`, `run` or a send would
//! meet is reported by `loa validate` with its file, line, field and hint, and `loa run`
//! refuses to start on it (issue 14, item 6); data problems are reported once each, after
//! their causes (item 8).

use std::time::Duration;

use crate::support::workspace::{EXAMPLE, Run, Workspace};

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"))
}

/// The diagnostic of `out` at `file:line` with `severity` and `field`, with its hint line.
fn diagnostic(out: &str, file: &str, line: usize, severity: &str, field: &str) -> String {
    let lines: Vec<&str> = out.lines().collect();
    let at = lines
        .iter()
        .position(|l| {
            l.contains(&format!("{file}:{line}:")) && l.contains(&format!("{severity}: {field}:"))
        })
        .unwrap_or_else(|| panic!("no {severity} at {file}:{line} for {field} in:\n{out}"));
    let hint = lines.get(at + 1).copied().unwrap_or_default();
    assert!(
        hint.trim_start().starts_with("hint: "),
        "no hint in:\n{out}"
    );
    format!("{}\n{hint}", lines[at])
}

fn edit(ws: &Workspace, rel: &str, from: &str, to: &str) -> String {
    let text = ws.read(rel);
    assert!(text.contains(from), "{from:?} not in {rel}");
    let text = text.replacen(from, to, 1);
    ws.write(rel, &text);
    text
}

/// `loa run` in `ws` on a port of the system's choosing, killed (and the test failed) if
/// it is still running after 60 s: a daemon that should refuse to start must not hang the
/// suite.
fn run_daemon(ws: &Workspace) -> Run {
    let args = [
        "--database-url",
        "sqlite://ledger.db",
        "--listen",
        "127.0.0.1:0",
        "run",
    ];
    ws.loa_within(&args, &[], Duration::from_secs(60))
}

#[test]
fn an_unknown_filter_or_function_in_a_template_is_an_error_at_its_line() {
    let ws = Workspace::example();
    let rel = "templates/staff_tasks/text.tera";
    let text = edit(&ws, rel, "end | vn_date }}", "end | vn_dat }}");
    let filter_line = line_of(&text, "vn_dat }}");
    let subject = edit(
        &ws,
        "templates/staff_tasks/subject.tera",
        "{{ school.name }}",
        "{{ school.name }} {{ now() }}",
    );
    let function_line = line_of(&subject, "now()");
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let err = run.stderr();
    let d = diagnostic(&err, rel, filter_line, "error", "vn_dat");
    assert!(d.contains("unknown filter"), "{d}");
    assert!(d.contains("did you mean `vn_date`?"), "{d}");
    let d = diagnostic(
        &err,
        "templates/staff_tasks/subject.tera",
        function_line,
        "error",
        "now",
    );
    assert!(d.contains("unknown function"), "{d}");
    assert!(d.contains("range"), "the hint lists loa's functions: {d}");
}

#[test]
fn an_unknown_filter_in_a_where_is_an_error_at_the_step() {
    let ws = Workspace::example();
    let text = edit(
        &ws,
        EXAMPLE,
        "where: \"row.students_insured < row.students_total\"\n    channel: [email, zalo]",
        "where: \"row.students_insured < row.students_total | lenght\"\n    channel: [email, zalo]",
    );
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let d = diagnostic(
        &run.stderr(),
        EXAMPLE,
        line_of(&text, "| lenght"),
        "error",
        "steps[2].where",
    );
    assert!(
        d.contains("unknown filter `lenght`") && d.contains("did you mean `length`?"),
        "{d}"
    );
}

#[test]
fn a_template_reading_a_window_the_campaign_lacks_is_an_error_at_its_line() {
    let ws = Workspace::example();
    edit(&ws, EXAMPLE, "  banners:      {", "  treo-bang-ron: {");
    let rel = "templates/banner_reminder/subject.tera";
    let subject = ws.read(rel);
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let d = diagnostic(
        &run.stderr(),
        rel,
        line_of(&subject, "campaign.windows.banners"),
        "error",
        "campaign.windows.banners.start",
    );
    assert!(
        d.contains("no window `banners`") && d.contains("treo-bang-ron"),
        "{d}"
    );
}

#[test]
fn a_cron_over_the_occurrence_cap_is_an_error_and_plan_and_run_refuse_with_its_line() {
    let ws = Workspace::example();
    let text = edit(&ws, EXAMPLE, "cron: \"0 8 * * MON\"", "cron: \"* * * * *\"");
    let line = line_of(&text, "\"* * * * *\"");
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let d = diagnostic(&run.stderr(), EXAMPLE, line, "error", "steps[2].send.cron");
    assert!(d.contains("more than 10000 send times"), "{d}");
    let plan = ws.loa(&["plan", EXAMPLE]);
    assert_eq!(plan.code(), 1, "{}", plan.stderr());
    diagnostic(&plan.stderr(), EXAMPLE, line, "error", "steps[2].send.cron");
    let daemon = run_daemon(&ws);
    assert_eq!(daemon.code(), 1, "{}", daemon.stderr());
    diagnostic(
        &daemon.stderr(),
        EXAMPLE,
        line,
        "error",
        "steps[2].send.cron",
    );
    assert!(
        !ws.path("ledger.db").exists(),
        "run refused before opening the ledger"
    );
}

#[test]
fn an_at_outside_its_window_is_a_warning() {
    let ws = Workspace::example();
    let text = edit(
        &ws,
        EXAMPLE,
        "send: { at: \"2026-09-03 08:00\" }",
        "send: { at: \"2026-09-03 08:00\", within: banners }",
    );
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let d = diagnostic(
        &run.stderr(),
        EXAMPLE,
        line_of(&text, "within: banners"),
        "warning",
        "steps[1].send.at",
    );
    assert!(
        d.contains("outside window `banners` (2026-09-04 – 2026-09-18)"),
        "{d}"
    );
}

#[test]
fn a_cron_that_never_fires_is_a_warning() {
    let ws = Workspace::example();
    let text = edit(
        &ws,
        EXAMPLE,
        "cron: \"0 19 10,20,28 12 *\"",
        "cron: \"0 8 30 2 *\"",
    );
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());
    let d = diagnostic(
        &run.stderr(),
        EXAMPLE,
        line_of(&text, "0 8 30 2 *"),
        "warning",
        "steps[5].send.cron",
    );
    assert!(d.contains("never fires"), "{d}");
}

#[test]
fn a_from_with_a_line_break_is_an_error() {
    let ws = Workspace::example();
    let text = edit(
        &ws,
        EXAMPLE,
        "from: \"BHXH tỉnh — Truyền thông",
        "from: \"BHXH tỉnh\\r\\nBcc: all@example.org — Truyền thông",
    );
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let d = diagnostic(
        &run.stderr(),
        EXAMPLE,
        line_of(&text, "Bcc: all@example.org"),
        "error",
        "channels.email.from",
    );
    assert!(d.contains("line break"), "{d}");
}

#[test]
fn an_unknown_smtp_url_option_is_an_error_and_run_refuses_before_it_listens() {
    let ws = Workspace::example();
    let text = edit(
        &ws,
        EXAMPLE,
        "smtp://127.0.0.1:2525}",
        "smtp://127.0.0.1:2525?tls=bogus}",
    );
    let line = line_of(&text, "tls=bogus");
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let d = diagnostic(&run.stderr(), EXAMPLE, line, "error", "channels.email.url");
    assert!(d.contains("tls=\"bogus\""), "{d}");
    let daemon = run_daemon(&ws);
    assert_eq!(daemon.code(), 1, "{}", daemon.stderr());
    diagnostic(
        &daemon.stderr(),
        EXAMPLE,
        line,
        "error",
        "channels.email.url",
    );
    assert!(
        !ws.path("ledger.db").exists(),
        "run refused before opening the ledger and its HTTP port"
    );
}

#[test]
fn a_zero_timeout_is_an_error() {
    let ws = Workspace::example();
    let text = edit(
        &ws,
        EXAMPLE,
        "    rate: 50/s\n",
        "    rate: 50/s\n    timeout: 0s\n",
    );
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let d = diagnostic(
        &run.stderr(),
        EXAMPLE,
        line_of(&text, "timeout: 0s"),
        "error",
        "channels.sms.timeout",
    );
    assert!(d.contains("zero"), "{d}");
    assert!(
        !run.stderr().contains("unknown channel"),
        "the channel itself stays known: {}",
        run.stderr()
    );
}

/// The example with a second audience over `students.csv` (as when two steps need the
/// parents under different keys or joins).
fn two_audiences_over_students(ws: &Workspace) {
    edit(
        ws,
        EXAMPLE,
        "  parents:\n    source: data/students.csv\n",
        "  parents-again:\n    source: data/students.csv\n    key: student_id\n    \
         join: { school: schools }\n  parents:\n    source: data/students.csv\n",
    );
}

#[test]
fn a_data_problem_is_reported_once_however_many_audiences_read_the_file_and_the_rest_counted_after()
{
    let ws = Workspace::example();
    two_audiences_over_students(&ws);
    let rel = "campaigns/data/students.csv";
    let students = ws.read(rel);
    let rows: Vec<&str> = students.lines().skip(1).take(25).collect();
    ws.write(rel, &format!("{students}{}\n", rows.join("\n")));
    let first_copy = students.lines().count() + 1;
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let err = run.stderr();
    let at_first = format!("{rel}:{first_copy}: error:");
    assert_eq!(err.matches(&at_first).count(), 1, "{err}");
    let listed = err.matches("is used again").count();
    assert_eq!(listed, 20, "{err}");
    let more: Vec<usize> = err
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("more row problems"))
        .map(|(i, _)| i)
        .collect();
    assert_eq!(more.len(), 1, "one count per file: {err}");
    assert!(
        err.lines()
            .nth(more[0])
            .is_some_and(|l| l.contains("and 5 more")),
        "{err}"
    );
    let last_row = err
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains("is used again"))
        .map(|(i, _)| i)
        .max()
        .unwrap_or_default();
    assert!(more[0] > last_row, "the count comes after the list: {err}");
}

#[test]
fn a_missing_join_column_is_reported_before_row_problems_and_without_its_consequences() {
    let ws = Workspace::example();
    let text = ws.read(EXAMPLE);
    std::fs::remove_file(ws.path(EXAMPLE)).expect("rm");
    // A name that sorts after campaigns/data/, as a province's campaign file may.
    let campaign = "campaigns/tphcm-2026.yaml";
    ws.write(campaign, &text);
    let rel = "campaigns/data/students.csv";
    let students: String = ws
        .read(rel)
        .lines()
        .map(|l| {
            let mut cells: Vec<&str> = l.split(',').collect();
            cells.remove(3); // school_id
            cells.join(",") + "\n"
        })
        .collect();
    ws.write(rel, &students);
    let staff = ws.read("campaigns/data/staff.csv");
    let again = staff.lines().nth(1).expect("a staff row");
    ws.write("campaigns/data/staff.csv", &format!("{staff}{again}\n"));
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let err = run.stderr();
    let join = err
        .lines()
        .position(|l| l.contains("join `school` needs column \"school_id\""))
        .unwrap_or_else(|| panic!("the root cause is reported: {err}"));
    let row = err
        .lines()
        .position(|l| l.contains("staff.csv:") && l.contains("used again"))
        .unwrap_or_else(|| panic!("the staff row is reported: {err}"));
    assert!(join < row, "root cause first: {err}");
    assert!(
        !err.contains(&format!("{rel}:")),
        "no per-row consequence of the missing column: {err}"
    );
}

#[test]
fn a_duplicate_key_in_a_joined_file_is_reported_once() {
    let ws = Workspace::example();
    let rel = "campaigns/data/schools.csv";
    let schools = ws.read(rel);
    let again = schools.lines().nth(1).expect("a school row");
    ws.write(rel, &format!("{schools}{again}\n"));
    let line = schools.lines().count() + 1;
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let err = run.stderr();
    // schools, and staff and parents, which join it, all read the row.
    assert_eq!(err.matches(&format!("{rel}:{line}:")).count(), 1, "{err}");
}

//! `loa validate` in one round (issue 20): mistakes of every kind — a field, a data column,
//! a template variable, a cron, a window, a channel, a join — are all reported by one run,
//! each at its file, line and field; and a cron that restricts both the day of the month and
//! the weekday is a warning that suggests `MON#1`.

use crate::support::workspace::{EXAMPLE, Workspace};

/// 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in the text"))
}

/// `text` with `from` replaced once; `from` must be there.
fn replace(text: &str, from: &str, to: &str) -> String {
    assert!(text.contains(from), "{from:?} not in the text");
    text.replacen(from, to, 1)
}

/// The line of `out` at `file:line` with `severity` on `field` holding `message`.
fn assert_reported(out: &str, file: &str, line: usize, severity: &str, field: &str, message: &str) {
    let found = out.lines().any(|l| {
        l.starts_with(&format!("{file}:{line}:"))
            && l.contains(&format!(" {severity}: {field}: "))
            && l.contains(message)
    });
    assert!(
        found,
        "expected {file}:{line}: {severity}: {field}: …{message}… in:\n{out}"
    );
}

#[test]
fn seven_mistakes_of_seven_kinds_are_all_reported_by_one_run() {
    let ws = Workspace::example();
    let mut text = ws.read(EXAMPLE);
    // 1. A field the format does not have.
    text = replace(
        &text,
        "status: active\n",
        "status: active\nowner: truyenthong\n",
    );
    // 2. A window that ends before it starts.
    text = replace(&text, "end: 2026-09-18", "end: 2026-09-01");
    // 3. A join to an audience that does not exist.
    text = replace(
        &text,
        "join: { school: schools }",
        "join: { school: schols }",
    );
    // 4. A channel setting that cannot be read.
    text = replace(&text, "rate: 20/s", "rate: fast");
    // 5. A `where` reading a column the data file does not have.
    text = replace(
        &text,
        "where: \"row.students_insured < row.students_total\"",
        "where: \"row.students_insured < row.students_totl\"",
    );
    // 6. A cron with an hour that does not exist.
    text = replace(&text, "\"30 19 * * SAT\"", "\"30 25 * * SAT\"");
    ws.write(EXAMPLE, &text);
    // 7. A template reading a variable that does not exist.
    let tpl = "templates/staff_tasks/text.tera";
    let template = replace(
        &ws.read(tpl),
        "{{ slogan }}",
        "{{ slogan }} {{ campain.title }}",
    );
    ws.write(tpl, &template);

    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let err = run.stderr();
    let at = |needle: &str| line_of(&text, needle);
    assert_reported(
        &err,
        EXAMPLE,
        at("owner:"),
        "error",
        "owner",
        "unknown field",
    );
    assert_reported(
        &err,
        EXAMPLE,
        at("end: 2026-09-01"),
        "error",
        "windows.banners.end",
        "ends (2026-09-01) before it starts (2026-09-04)",
    );
    assert_reported(
        &err,
        EXAMPLE,
        at("schols"),
        "error",
        "audiences.staff.join.school",
        "unknown audience \"schols\" to join",
    );
    assert_reported(
        &err,
        EXAMPLE,
        at("rate: fast"),
        "error",
        "channels.email.rate",
        "bad rate",
    );
    assert_reported(
        &err,
        EXAMPLE,
        at("students_totl"),
        "error",
        "steps[2].where",
        "column \"students_totl\" is not in",
    );
    assert_reported(
        &err,
        EXAMPLE,
        at("30 25 * * SAT"),
        "error",
        "steps[4].send.cron",
        "bad cron expression",
    );
    assert_reported(
        &err,
        tpl,
        line_of(&template, "campain"),
        "error",
        "campain.title",
        "unknown variable `campain`",
    );
    // Nothing else: no consequence of one mistake is reported as another.
    assert!(err.contains("7 error(s), 0 warning(s)"), "{err}");
}

#[test]
fn a_cron_with_both_a_day_of_the_month_and_a_weekday_is_a_warning_suggesting_mon_1() {
    let ws = Workspace::example();
    let text = replace(&ws.read(EXAMPLE), "\"0 8 * * MON\"", "\"0 8 1-7 * MON\"");
    ws.write(EXAMPLE, &text);
    let run = ws.loa(&["validate"]);
    let out = format!("{}{}", run.stdout(), run.stderr());
    assert_eq!(run.code(), 0, "a warning, not an error: {out}");
    let line = line_of(&text, "1-7 * MON");
    assert_reported(
        &out,
        EXAMPLE,
        line,
        "warning",
        "steps[2].send.cron",
        "sends on days 1-7 of the month and also on every MON",
    );
    assert!(out.contains("write \"0 8 * * MON#1\""), "{out}");
    assert!(out.contains("1 warning(s)"), "{out}");

    // What the hint suggests is taken without a warning, and so is `+MON` (days 1-7 that are
    // a Monday).
    for fixed in ["\"0 8 * * MON#1\"", "\"0 8 1-7 * +MON\""] {
        ws.write(EXAMPLE, &text.replace("\"0 8 1-7 * MON\"", fixed));
        let run = ws.loa(&["validate"]);
        let out = format!("{}{}", run.stdout(), run.stderr());
        assert_eq!(run.code(), 0, "{fixed}: {out}");
        assert!(!out.contains("warning"), "{fixed}: {out}");
    }
}

#[test]
fn a_template_that_does_not_parse_hides_neither_the_other_templates_nor_the_steps() {
    let ws = Workspace::example();
    let broken = "templates/banner_reminder/text.tera";
    ws.write(broken, "Kính gửi {{ row.name \n");
    let tpl = "templates/staff_tasks/text.tera";
    let template = replace(
        &ws.read(tpl),
        "{{ slogan }}",
        "{{ slogan }} {{ campain.title }}",
    );
    ws.write(tpl, &template);
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let err = run.stderr();
    assert!(
        err.contains(&format!("{broken}:2:1: error: syntax error")),
        "{err}"
    );
    assert_reported(
        &err,
        tpl,
        line_of(&template, "campain"),
        "error",
        "campain.title",
        "unknown variable `campain`",
    );
    // The steps naming the broken template are not told it is unknown or lacks a part.
    assert!(err.contains("2 error(s), 0 warning(s)"), "{err}");
}

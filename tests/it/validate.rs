//! `loa validate`: a clean example passes; a broken copy reports every problem with its line.

use crate::support::workspace::{EXAMPLE, Workspace};

#[test]
fn the_example_workspace_validates_cleanly() {
    let ws = Workspace::example();
    let out = ws.loa(&["validate", "campaigns"]).ok();
    assert!(out.contains("bhyt-hssv-2026-2027"), "{out}");
}

/// Line of the first line of `text` containing `needle` (1-based).
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in file"))
}

/// Every `(line, field, message)` is on one line of `err`, at that line of the example.
fn assert_reported(err: &str, expect: &[(usize, &str, &str)]) {
    for (line, field, message) in expect {
        let found = err.lines().any(|l| {
            l.contains(&format!("bhyt-hssv-2026-2027.yaml:{line}:"))
                && l.contains(field)
                && l.contains(message)
        });
        assert!(
            found,
            "expected line {line} `{field}: {message}` in:\n{err}"
        );
    }
}

fn line_where(text: &str, pred: impl Fn(&str) -> bool) -> usize {
    text.lines()
        .position(pred)
        .map(|i| i + 1)
        .expect("line in file")
}

#[test]
fn six_problems_at_once_are_all_reported_with_their_lines() {
    let ws = Workspace::example();
    let text = ws
        .read(EXAMPLE)
        .replace("status: active", "status: active\nowner: truyenthong")
        .replace("start: 2026-09-04", "start: 2026-09-31")
        .replace("\"0 8 * * MON\"", "\"0 8 * * MOON\"")
        .replace("timezone: Asia/Ho_Chi_Minh", "timezone: Asia/Saigon_X")
        .replace("within: school-start", "within: school-begin")
        .replace("template: deadline_schools", "template: deadline_school");
    ws.write(EXAMPLE, &text);
    let run = ws.loa(&["validate", "campaigns"]);
    assert_eq!(run.code(), 1, "{}", run.stderr());
    let err = run.stderr();
    let expect = [
        (line_of(&text, "owner:"), "owner", "unknown field"),
        (
            line_of(&text, "2026-09-31"),
            "windows.banners.start",
            "bad date",
        ),
        (
            line_of(&text, "MOON"),
            "steps[2].send.cron",
            "bad cron expression",
        ),
        (line_of(&text, "Saigon_X"), "timezone", "unknown time zone"),
        (
            line_of(&text, "school-begin"),
            "steps[3].send.within",
            "unknown window",
        ),
        (
            line_where(&text, |l| l.trim() == "template: deadline_school"),
            "steps[6].template",
            "unknown template",
        ),
    ];
    assert_reported(&err, &expect);
    assert!(err.contains("6 error(s)"), "{err}");
}

#[test]
fn a_missing_secret_variable_is_an_error_naming_it() {
    let ws = Workspace::example();
    let text = ws
        .read(EXAMPLE)
        .replace("${ZALO_ACCESS_TOKEN:-}", "${ZALO_ACCESS_TOKEN}");
    ws.write(EXAMPLE, &text);
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr()
            .contains("environment variable ZALO_ACCESS_TOKEN is not set"),
        "{}",
        run.stderr()
    );
    let outbox = ws.loa(&["--outbox", "outbox", "validate"]);
    assert_eq!(outbox.code(), 0, "{}", outbox.stderr());
    assert!(outbox.stderr().contains("warning"), "{}", outbox.stderr());
}

#[test]
fn a_secret_written_in_the_file_is_refused() {
    let ws = Workspace::example();
    let text = ws
        .read(EXAMPLE)
        .replace("\"${ZALO_ACCESS_TOKEN:-}\"", "\"abc123-real-token\"");
    ws.write(EXAMPLE, &text);
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1);
    let err = run.stderr();
    assert!(
        err.contains("channels.zalo.access_token") && err.contains("secret"),
        "{err}"
    );
    assert!(
        !err.contains("abc123-real-token"),
        "the secret must not be echoed: {err}"
    );
}

#[test]
fn data_problems_are_reported_by_row() {
    let ws = Workspace::example();
    let mut students = ws.read("campaigns/data/students.csv");
    students.push_str(
        "HS00001,Trùng Khóa,2,TH-001,01/01/2019,Phụ Huynh,0912345678,a@example.com,có,\r\n",
    );
    students.push_str(
        "HS09998,Sai Số,2,TH-001,01/01/2019,Phụ Huynh,0212345678,b@example.com,không,\r\n",
    );
    students.push_str(
        "HS09999,Sai Trường,2,TH-404,01/01/2019,Phụ Huynh,0912345679,c@example.com,không,\r\n",
    );
    students
        .push_str(",Không Khóa,2,TH-001,01/01/2019,Phụ Huynh,0912345670,d@example.com,không,\r\n");
    ws.write("campaigns/data/students.csv", &students);
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1);
    let err = run.stderr();
    let rows = students.lines().count() - 1;
    assert!(
        err.contains(&format!("students.csv:{}: error:", rows - 2)) && err.contains("used again"),
        "{err}"
    );
    assert!(
        err.contains(&format!("students.csv:{}: warning: phone:", rows - 1)),
        "{err}"
    );
    assert!(
        err.contains(&format!("students.csv:{}: error: school_id", rows)),
        "{err}"
    );
    assert!(
        err.contains(&format!(
            "students.csv:{}: error: student_id: the key is empty",
            rows + 1
        )),
        "{err}"
    );
    // Rows are named by file, line and column; their cells are never quoted (issue 14, item 10).
    for cell in ["TH-404", "0212345678", "HS00001"] {
        assert!(!err.contains(cell), "{cell} is quoted: {err}");
    }
}

#[test]
fn a_where_or_template_reading_a_missing_column_is_reported() {
    let ws = Workspace::example();
    let text = ws.read(EXAMPLE).replace(
        "where: \"row.grade == 1 and not row.insured\"",
        "where: \"row.grade == 1 and not row.insurd\"",
    );
    ws.write(EXAMPLE, &text);
    let tpl = ws
        .read("templates/staff_tasks/text.tera")
        .replace("{{ row.full_name }}", "{{ row.fullname }}");
    ws.write("templates/staff_tasks/text.tera", &tpl);
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1);
    let err = run.stderr();
    let line = line_of(&text, "row.insurd");
    assert!(
        err.contains(&format!(":{line}:"))
            && err.contains("insurd")
            && err.contains("did you mean `insured`?"),
        "{err}"
    );
    assert!(
        err.contains("staff_tasks/text.tera")
            && err.contains("fullname")
            && err.contains("full_name"),
        "{err}"
    );
}

#[test]
fn a_template_that_does_not_parse_is_reported_with_its_file() {
    let ws = Workspace::example();
    ws.write(
        "templates/banner_reminder/text.tera",
        "Kính gửi {{ row.name \n",
    );
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1);
    assert!(
        run.stderr().contains("banner_reminder/text.tera"),
        "{}",
        run.stderr()
    );
}

#[test]
fn unknown_references_a_window_outside_the_period_and_a_missing_file_are_reported() {
    let ws = Workspace::example();
    let text = ws
        .read(EXAMPLE)
        .replace(
            "year-end:     { start: 2026-12-01, end: 2026-12-31 }",
            "year-end:     { start: 2026-12-01, end: 2027-01-15 }",
        )
        .replace("source: data/staff.csv", "source: data/can-bo.csv")
        .replace(
            "join: { school: schools }\n  parents:",
            "join: { school: school }\n  parents:",
        )
        .replace("audience: staff", "audience: staf")
        .replace("channel: [email, zalo]", "channel: [email, zallo]");
    ws.write(EXAMPLE, &text);
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1);
    let err = run.stderr();
    for (needle, what) in [
        ("2027-01-15", "is not inside the period"),
        ("can-bo.csv", "does not exist"),
        (
            "join: { school: school }",
            "unknown audience \"school\" to join",
        ),
        ("audience: staf\n", "unknown audience \"staf\""),
        ("zallo", "unknown channel \"zallo\""),
    ] {
        let line = text
            .find(needle)
            .map(|at| text[..at].lines().count())
            .expect("needle in text");
        let line = if text[..text.find(needle).unwrap()].ends_with('\n') {
            line + 1
        } else {
            line
        };
        assert!(
            err.lines()
                .any(|l| l.contains(&format!(".yaml:{line}:")) && l.contains(what)),
            "line {line}: {what}\n{err}"
        );
    }
}

#[test]
fn dkim_settings_are_checked_with_their_lines_and_the_key_must_come_from_the_environment() {
    let ws = Workspace::example();
    let mail = "    from: \"BHXH tỉnh — Truyền thông <truyenthong@example.org>\"\n";
    let good = ws.read(EXAMPLE).replace(
        mail,
        &format!(
            "{mail}    dkim:\n      domain: example.org\n      selector: loa2026\n      \
             key: \"${{LOA_DKIM_KEY:-}}\"\n"
        ),
    );
    assert_ne!(good, ws.read(EXAMPLE), "the example has the e-mail channel");
    ws.write(EXAMPLE, &good);
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 0, "{}", run.stderr());

    let bad = good
        .replace("      selector: loa2026\n", "      algoritm: rsa\n")
        .replace(
            "\"${LOA_DKIM_KEY:-}\"",
            "\"-----BEGIN RSA PRIVATE KEY-----MIIE\"",
        );
    ws.write(EXAMPLE, &bad);
    let run = ws.loa(&["validate"]);
    assert_eq!(run.code(), 1);
    let err = run.stderr();
    let expect = [
        (
            line_of(&bad, "algoritm:"),
            "channels.email.dkim.algoritm",
            "unknown field",
        ),
        (
            line_of(&bad, "dkim:"),
            "channels.email.dkim.selector",
            "missing required field",
        ),
        (
            line_of(&bad, "BEGIN RSA"),
            "channels.email.dkim.key",
            "a secret is written in the file",
        ),
    ];
    assert_reported(&err, &expect);
    assert!(!err.contains("MIIE"), "the key must not be echoed: {err}");

    let unknown = good.replace(
        "      selector: loa2026\n",
        "      selector: loa2026\n      algorithm: dsa\n",
    );
    ws.write(EXAMPLE, &unknown);
    let err = ws.loa(&["validate"]).stderr();
    assert!(
        err.contains(&format!("yaml:{}:", line_of(&unknown, "algorithm: dsa")))
            && err.contains("unknown DKIM algorithm \"dsa\""),
        "{err}"
    );
}

#[test]
fn a_variable_can_come_from_the_file_its_file_variable_names() {
    let ws = Workspace::example();
    let text = ws.read(EXAMPLE).replace(
        "\"${LOA_SMTP_URL:-smtp://127.0.0.1:2525}\"",
        "\"${LOA_SMTP_URL}\"",
    );
    ws.write(EXAMPLE, &text);
    let secret = ws.path("smtp-url");
    std::fs::write(&secret, "smtp://127.0.0.1:2526\n").unwrap();
    let path = secret.display().to_string();
    let run = ws.loa_with(&["validate"], &[("LOA_SMTP_URL_FILE", &path)]);
    assert_eq!(run.code(), 0, "{}", run.stderr());

    let gone = ws.path("nowhere").display().to_string();
    let run = ws.loa_with(&["validate"], &[("LOA_SMTP_URL_FILE", &gone)]);
    assert_eq!(run.code(), 1);
    let line = line_of(&text, "${LOA_SMTP_URL}");
    let err = run.stderr();
    assert!(
        err.lines()
            .any(|l| l.contains(&format!("bhyt-hssv-2026-2027.yaml:{line}:"))
                && l.contains(&format!(
                    "LOA_SMTP_URL_FILE names {gone}, which cannot be read"
                ))),
        "{err}"
    );
}

#[test]
fn a_data_file_outside_the_campaign_folder_is_refused_and_never_quoted() {
    let ws = Workspace::example();
    // What a daemon's environment looks like: one line, the secret in the "header".
    let secret = "LOA_ADMIN_TOKEN=s3cret-admin-token,LOA_ZALO_CALLBACK_KEY=k3y\n1,2\n";
    ws.write("secret.env", secret);
    let original = ws.read(EXAMPLE);
    for source in [
        "../secret.env".to_string(),
        ws.path("secret.env").display().to_string(),
        "/proc/self/environ".to_string(),
    ] {
        let text = original.replace(
            "source: data/students.csv",
            &format!("source: \"{source}\""),
        );
        ws.write(EXAMPLE, &text);
        let run = ws.loa(&["validate"]);
        let err = run.stderr();
        assert_eq!(run.code(), 1, "{source}: {err}");
        let line = line_of(&text, "source: \"");
        assert!(
            err.lines()
                .any(|l| l.contains(&format!("bhyt-hssv-2026-2027.yaml:{line}:"))
                    && l.contains("outside the campaign folder")),
            "{source}: {err}"
        );
        assert!(err.contains("LOA_DATA_DIRS"), "{err}");
        assert!(!err.contains("s3cret") && !err.contains("k3y"), "{err}");
    }
    // A link in data/ that points out counts as outside.
    ws.write(EXAMPLE, &original);
    let students = ws.path("campaigns/data/students.csv");
    std::fs::rename(&students, ws.path("students.csv")).expect("move");
    std::os::unix::fs::symlink(ws.path("secret.env"), &students).expect("link");
    let run = ws.loa(&["validate"]);
    let err = run.stderr();
    assert_eq!(run.code(), 1, "{err}");
    assert!(err.contains("resolves to"), "{err}");
    assert!(!err.contains("s3cret"), "{err}");
}

#[test]
fn loa_data_dirs_allows_a_folder_outside_the_campaign_folder() {
    let ws = Workspace::example();
    std::fs::create_dir_all(ws.path("shared")).expect("mkdir");
    std::fs::rename(
        ws.path("campaigns/data/students.csv"),
        ws.path("shared/students.csv"),
    )
    .expect("move");
    let text = ws.read(EXAMPLE).replace(
        "source: data/students.csv",
        "source: ../shared/students.csv",
    );
    ws.write(EXAMPLE, &text);
    let refused = ws.loa(&["validate"]);
    assert_eq!(refused.code(), 1, "{}", refused.stderr());
    assert!(refused.stderr().contains("outside the campaign folder"));
    let shared = ws.path("shared").display().to_string();
    let allowed = ws.loa_with(
        &["validate"],
        &[("LOA_DATA_DIRS", &format!("/nonexistent-x,{shared}"))],
    );
    assert_eq!(allowed.code(), 1, "an unknown folder is an error");
    assert!(
        allowed.stderr().contains("/nonexistent-x"),
        "{}",
        allowed.stderr()
    );
    ws.loa_with(&["validate"], &[("LOA_DATA_DIRS", &shared)])
        .ok();
    ws.loa(&["validate", "--data-dirs", &shared]).ok();
}

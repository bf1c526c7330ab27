//! Behaviour of the [`Renderer`] as a whole: loading directories, escaping, the sandbox,
//! expressions, ZNS and the lint.

use std::fs;
use std::path::Path;

use serde_json::json;
use tera::Context;

use super::*;

fn write(root: &Path, file: &str, text: &str) {
    let path = root.join(file);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).unwrap_or_else(|e| panic!("mkdir {parent:?}: {e}"));
    }
    fs::write(&path, text).unwrap_or_else(|e| panic!("write {path:?}: {e}"));
}

fn workspace(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("tempdir: {e}"));
    for (file, text) in files {
        write(dir.path(), file, text);
    }
    dir
}

fn loaded(files: &[(&str, &str)]) -> Renderer {
    let dir = workspace(files);
    Renderer::load(dir.path()).unwrap_or_else(|e| panic!("load failed: {e:#?}"))
}

fn load_errors(files: &[(&str, &str)]) -> Vec<TemplateError> {
    let dir = workspace(files);
    match Renderer::load(dir.path()) {
        Ok(_) => panic!("load succeeded"),
        Err(errors) => errors,
    }
}

fn ctx(value: serde_json::Value) -> Context {
    Context::from_value(value).unwrap_or_else(|e| panic!("context: {e}"))
}

fn school(name: &str) -> Context {
    ctx(json!({ "row": { "school_name": name } }))
}

fn render(renderer: &Renderer, name: &str, context: &Context) -> String {
    renderer
        .render(name, context)
        .unwrap_or_else(|e| panic!("render {name}: {e}"))
}

fn with_expression(expr: &str) -> Renderer {
    let mut renderer = Renderer::empty();
    renderer
        .add_expression("step", expr)
        .unwrap_or_else(|e| panic!("{expr}: {e}"));
    renderer
}

fn eval(expr: &str, row: serde_json::Value) -> Result<bool, RenderError> {
    with_expression(expr).eval_expression("step", &ctx(json!({ "row": row })))
}

fn var(path: &[&str], in_condition: bool) -> VarRef {
    VarRef {
        path: path.iter().map(|s| s.to_string()).collect(),
        in_condition,
    }
}

const NOTICE: [(&str, &str); 3] = [
    (
        "coverage/subject.tera",
        "Thông báo BHYT học sinh: {{ row.school_name }}",
    ),
    ("coverage/text.tera", "Trường {{ row.school_name }}"),
    ("coverage/html.tera", "<p>Trường {{ row.school_name }}</p>"),
];

#[test]
fn html_part_escapes_a_school_name_with_ampersand() {
    let renderer = loaded(&NOTICE);
    let out = render(&renderer, "coverage/html.tera", &school("Lê & Trần"));
    assert_eq!(out, "<p>Trường Lê &amp; Trần</p>");
}

#[test]
fn html_part_escapes_script_tags_and_quotes() {
    let renderer = loaded(&NOTICE);
    let hostile = school("<script>alert(1)</script>\"'");
    let out = render(&renderer, "coverage/html.tera", &hostile);
    assert!(!out.contains("<script>"), "{out}");
    assert!(
        out.contains("&lt;script&gt;") && out.contains("&quot;"),
        "{out}"
    );
}

#[test]
fn text_and_subject_parts_are_not_escaped() {
    let renderer = loaded(&NOTICE);
    let hostile = school("<b>Lê & Trần</b> \"A\"");
    assert_eq!(
        render(&renderer, "coverage/text.tera", &hostile),
        "Trường <b>Lê & Trần</b> \"A\""
    );
    let subject = render(&renderer, "coverage/subject.tera", &hostile);
    assert!(subject.ends_with("<b>Lê & Trần</b> \"A\""), "{subject}");
}

#[test]
fn an_undefined_variable_in_output_is_an_error_naming_it() {
    let renderer = loaded(&[("coverage/text.tera", "{{ row.school_nme }}")]);
    let error = renderer.render("coverage/text.tera", &school("A"));
    assert_eq!(
        error,
        Err(RenderError::UndefinedVariable {
            template: "coverage/text.tera".to_string(),
            variable: "row.school_nme".to_string(),
        })
    );
}

#[test]
fn an_unknown_template_is_an_error() {
    let error = Renderer::empty().render("nope/text.tera", &Context::new());
    assert_eq!(
        error,
        Err(RenderError::UnknownTemplate("nope/text.tera".into()))
    );
}

#[test]
fn get_env_is_disabled_and_leaks_nothing() {
    // A long value (PATH, usually) cannot appear in an error message by coincidence.
    let (name, secret) = std::env::vars()
        .max_by_key(|(_, v)| v.len())
        .filter(|(_, v)| v.len() >= 12)
        .unwrap_or_else(|| panic!("no environment variable to test with"));
    let renderer = loaded(&[
        (
            "a/text.tera",
            &format!("{{{{ get_env(name=\"{name}\") }}}}"),
        ),
        (
            "b/text.tera",
            &format!("{{{{ get_env(name=\"{name}\", default=\"x\") }}}}"),
        ),
        ("c/text.tera", "{{ get_env(name=\"HOME\") }}"),
    ]);
    for template in ["a/text.tera", "b/text.tera", "c/text.tera"] {
        let error = renderer
            .render(template, &Context::new())
            .err()
            .unwrap_or_else(|| panic!("{template} rendered"));
        let message = error.to_string();
        assert!(message.contains("`get_env` is disabled"), "{message}");
        assert!(!message.contains(&secret), "{template} leaked the value");
        assert!(!format!("{error:?}").contains(&secret));
    }
}

#[test]
fn expressions_evaluate_against_the_row() {
    assert_eq!(
        eval("not row.insured", json!({ "insured": false })),
        Ok(true)
    );
    assert_eq!(
        eval("not row.insured", json!({ "insured": true })),
        Ok(false)
    );
    let counts = |i: u32, t: u32| json!({ "a": i, "b": t });
    assert_eq!(
        eval("row.a < row.b", counts(1_919_166, 1_987_745)),
        Ok(true)
    );
    assert_eq!(eval("row.a < row.b", counts(700, 700)), Ok(false));
    let pupil = |grade: u32, insured: bool| json!({ "grade": grade, "insured": insured });
    let expr = "row.grade == 1 and not row.insured";
    assert_eq!(eval(expr, pupil(1, false)), Ok(true));
    assert_eq!(eval(expr, pupil(1, true)), Ok(false));
    assert_eq!(eval(expr, pupil(2, false)), Ok(false));
}

#[test]
fn an_expression_can_use_the_vietnamese_filters() {
    let expr = "row.district | unaccent == \"Buon Don\"";
    assert_eq!(eval(expr, json!({ "district": "Buôn Đôn" })), Ok(true));
}

#[test]
fn a_bare_undefined_name_in_an_expression_is_false_as_in_tera() {
    // Why the lint exists: a misspelled field silently selects everyone.
    assert_eq!(eval("not row.insurd", json!({ "insured": true })), Ok(true));
    let renderer = with_expression("not row.insurd");
    assert_eq!(renderer.variables("step"), [var(&["row", "insurd"], true)]);
}

#[test]
fn comparing_an_undefined_field_in_an_expression_is_an_error() {
    let result = eval("row.a < row.missing", json!({ "a": 1 }));
    assert!(
        matches!(result, Err(RenderError::UndefinedVariable { .. })),
        "{result:?}"
    );
}

#[test]
fn an_unknown_expression_id_is_an_error() {
    let result = Renderer::empty().eval_expression("nope", &Context::new());
    assert_eq!(result, Err(RenderError::UnknownExpression("nope".into())));
}

#[test]
fn an_injected_expression_is_rejected_and_not_added() {
    let mut renderer = Renderer::empty();
    let attempt = "true %}{{ get_env(name=\"SMTP_PASSWORD\") }}{% if true";
    assert!(renderer.add_expression("step", attempt).is_err());
    let result = renderer.eval_expression("step", &Context::new());
    assert!(matches!(result, Err(RenderError::UnknownExpression(_))));
}

#[test]
fn filters_render_in_a_template() {
    let renderer = loaded(&[(
        "coverage/text.tera",
        "{{ row.rate | percent }} | {{ row.fee | vnd }} | {{ row.due | vn_date }} | {{ row.school | unaccent }}",
    )]);
    let row = json!({ "row": { "rate": 0.9655, "fee": 1_234_567, "due": "2026-09-04", "school": "THPT Đắk Lắk" } });
    assert_eq!(
        render(&renderer, "coverage/text.tera", &ctx(row)),
        "96,55% | 1.234.567 đ | 04/9/2026 | THPT Dak Lak"
    );
}

#[test]
fn a_filter_error_names_the_template_and_filter() {
    let renderer = loaded(&[("coverage/text.tera", "{{ row.fee | vnd }}")]);
    let error = renderer.render(
        "coverage/text.tera",
        &ctx(json!({ "row": { "fee": "abc" } })),
    );
    let message = error.err().map(|e| e.to_string()).unwrap_or_default();
    assert!(message.contains("coverage/text.tera"), "{message}");
    assert!(message.contains("`vnd` expects a number"), "{message}");
}

#[test]
fn load_reports_every_broken_template_with_file_and_line() {
    let errors = load_errors(&[
        ("a/text.tera", "Xin chào\n{{ row.name | }}\n"),
        ("b/html.tera", "<p>\n\n{% if row.x %}open\n"),
        (
            "c/zns.yaml",
            "template_id: \"1\"\nparams:\n  name: \"{{ row.name\"\n",
        ),
        ("c/notes.txt", "draft"),
        ("d/text.tera", "fine"),
    ]);
    let summary: Vec<(String, Option<usize>)> = errors
        .iter()
        .map(|e| {
            let file = e.file.iter().rev().take(2).collect::<Vec<_>>();
            (
                format!(
                    "{}/{}",
                    file[1].to_string_lossy(),
                    file[0].to_string_lossy()
                ),
                e.line,
            )
        })
        .collect();
    assert_eq!(errors.len(), 4, "{errors:#?}");
    assert_eq!(summary[0], ("a/text.tera".to_string(), Some(2)));
    assert_eq!(summary[1].0, "b/html.tera");
    assert!(summary[1].1.is_some(), "{errors:#?}");
    assert_eq!(summary[2].0, "c/notes.txt");
    assert_eq!(summary[3], ("c/zns.yaml".to_string(), Some(3)));
    assert!(errors.iter().all(|e| e.hint.is_some()));
}

#[test]
fn load_lists_template_names_and_parts() {
    let renderer = loaded(&[
        ("parent_notice/text.tera", "x"),
        (
            "parent_notice/zns.yaml",
            "template_id: \"231245\"\nparams: {}\n",
        ),
        ("coverage/subject.tera", "s"),
        ("coverage/html.tera", "h"),
        ("sms_gateway/body.tera", "{}"),
        ("coverage/.text.tera.swp", "ignored"),
    ]);
    assert_eq!(
        renderer.template_names(),
        ["coverage", "parent_notice", "sms_gateway"]
    );
    let coverage = renderer.parts("coverage");
    assert_eq!(
        coverage,
        Some(Parts {
            subject: true,
            html: true,
            ..Parts::default()
        })
    );
    let notice = renderer.parts("parent_notice");
    assert_eq!(
        notice,
        Some(Parts {
            text: true,
            zns: true,
            ..Parts::default()
        })
    );
    assert_eq!(renderer.parts("sms_gateway").map(|p| p.body), Some(true));
    assert_eq!(renderer.parts("missing"), None);
}

#[test]
fn load_reports_a_missing_directory() {
    let dir = workspace(&[]);
    let errors = Renderer::load(&dir.path().join("templates"))
        .err()
        .unwrap_or_default();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("cannot read the directory"));
}

#[test]
fn load_reports_an_include_of_a_template_that_does_not_exist() {
    let errors = load_errors(&[("a/text.tera", "{% include \"shared/footer.tera\" %}")]);
    assert!(
        errors[0].message.contains("`shared/footer.tera`"),
        "{errors:#?}"
    );
}

#[test]
fn a_partial_can_be_included_by_its_tera_name() {
    let renderer = loaded(&[
        ("shared/footer.tera", "BHXH {{ campaign.title }}"),
        (
            "a/text.tera",
            "Xin chào. {% include \"shared/footer.tera\" %}",
        ),
    ]);
    let context = ctx(json!({ "campaign": { "title": "HSSV" } }));
    assert_eq!(
        render(&renderer, "a/text.tera", &context),
        "Xin chào. BHXH HSSV"
    );
}

#[test]
fn a_bom_is_dropped_and_text_is_normalised_to_nfc() {
    use unicode_normalization::UnicodeNormalization;
    let decomposed: String = "Thông báo".nfd().collect();
    assert_ne!(decomposed, "Thông báo");
    let renderer = loaded(&[("a/text.tera", &format!("\u{feff}{decomposed}"))]);
    assert_eq!(
        render(&renderer, "a/text.tera", &Context::new()),
        "Thông báo"
    );
}

#[test]
fn zns_yaml_renders_its_params_in_order() {
    let renderer = loaded(&[(
        "parent_notice/zns.yaml",
        "template_id: \"231245\"\nparams:\n  student_name: \"{{ row.name }}\"\n  amount: \"{{ row.fee | vnd }}\"\n  school: \"{{ school.name }} & co\"\n",
    )]);
    let context = ctx(
        json!({ "row": { "name": "Nguyễn Văn An", "fee": 884_520 }, "school": { "name": "THCS <Lê Lợi>" } }),
    );
    let message = renderer
        .render_zns("parent_notice", &context)
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(message.template_id, "231245");
    let params: Vec<(&str, &str)> = message
        .params
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        params,
        [
            ("student_name", "Nguyễn Văn An"),
            ("amount", "884.520 đ"),
            ("school", "THCS <Lê Lợi> & co"),
        ]
    );
}

#[test]
fn render_zns_of_a_template_without_zns_is_an_error() {
    let renderer = loaded(&[("a/text.tera", "x")]);
    let error = renderer.render_zns("a", &Context::new());
    assert_eq!(error, Err(RenderError::NoZns("a".into())));
}

#[test]
fn a_template_over_one_mebibyte_is_rejected_at_load() {
    let big = "x".repeat(5 * 1024 * 1024);
    let errors = load_errors(&[("a/text.tera", &big), ("b/text.tera", "ok")]);
    assert_eq!(errors.len(), 1);
    assert!(
        errors[0].message.contains("limited to 1048576 bytes"),
        "{errors:#?}"
    );
}

#[test]
fn output_over_the_cap_is_a_render_error() {
    // 120 × 120 × 100 bytes = 1.44 MB, over the 1 MiB cap in 14,400 iterations: few enough
    // that the render's time limit cannot come first on a loaded machine.
    let line = "x".repeat(100);
    let source = format!(
        "{{% for i in range(end=120) %}}{{% for j in range(end=120) %}}{line}{{% endfor %}}{{% endfor %}}"
    );
    let renderer = loaded(&[("a/text.tera", source.as_str())]);
    let error = renderer.render("a/text.tera", &Context::new());
    assert_eq!(
        error,
        Err(RenderError::OutputTooLarge {
            template: "a/text.tera".into(),
            limit: MAX_OUTPUT_BYTES
        })
    );
}

#[test]
fn a_huge_range_is_a_render_error() {
    let renderer = loaded(&[(
        "a/text.tera",
        "{% for i in range(end=1000000000) %}{% endfor %}",
    )]);
    let message = renderer
        .render("a/text.tera", &Context::new())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(message.contains("at most 100000"), "{message}");
}

#[test]
fn variables_excludes_loop_and_set_names_and_flags_condition_only_use() {
    let renderer = loaded(&[(
        "a/text.tera",
        "{% set greeting = \"Kính gửi\" %}{{ greeting }} {{ row.parent_name }}\n\
         {% for s in messages.slogans %}{{ loop.index }}. {{ s }} {{ slogan }}{% endfor %}\n\
         {% if row.insurd %}{{ row.parent_name }}{% elif row.grade == 1 %}{{ row.grade }}{% endif %}\n\
         {% for k, v in school %}{{ k }}={{ v | default(value=campaign.title) }}{% endfor %}",
    )]);
    assert_eq!(
        renderer.variables("a/text.tera"),
        [
            var(&["row", "parent_name"], false),
            var(&["messages", "slogans"], false),
            var(&["slogan"], false),
            var(&["row", "insurd"], true),
            var(&["row", "grade"], false),
            var(&["school"], false),
            var(&["campaign", "title"], false),
        ]
    );
}

#[test]
fn variables_of_an_expression_are_all_in_condition() {
    let renderer =
        with_expression("row.students_insured < row.students_total and not school.closed");
    assert_eq!(
        renderer.variables("step"),
        [
            var(&["row", "students_insured"], true),
            var(&["row", "students_total"], true),
            var(&["school", "closed"], true),
        ]
    );
}

#[test]
fn variables_follow_includes_and_macro_calls() {
    let renderer = loaded(&[
        (
            "shared/macros.tera",
            "{% macro money(amount) %}{{ amount | vnd }} ({{ currency }}){% endmacro money %}",
        ),
        ("shared/footer.tera", "{{ campaign.title }}"),
        (
            "a/text.tera",
            "{% import \"shared/macros.tera\" as m %}{{ m::money(amount=row.fee) }}{% include \"shared/footer.tera\" %}",
        ),
    ]);
    assert_eq!(
        renderer.variables("a/text.tera"),
        [
            var(&["row", "fee"], false),
            var(&["campaign", "title"], false)
        ]
    );
    assert_eq!(
        renderer.variables("shared/macros.tera"),
        [var(&["currency"], false)]
    );
    assert!(renderer.variables("no/such.tera").is_empty());
}

#[test]
fn variables_of_zns_params_are_reachable_by_their_names() {
    let renderer = loaded(&[(
        "n/zns.yaml",
        "template_id: \"1\"\nparams:\n  a: \"{{ row.student_name }}\"\n",
    )]);
    let names = renderer.zns_param_names("n");
    assert_eq!(names, ["n/zns.yaml[a]"]);
    assert_eq!(
        renderer.variables(&names[0]),
        [var(&["row", "student_name"], false)]
    );
}

#[test]
fn a_renderer_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync + Clone>() {}
    shareable::<Renderer>();
}

#[test]
fn a_webhook_reads_sms_tera_when_the_folder_has_one_and_email_keeps_text_tera() {
    use crate::channel_kind::ChannelKind;
    use message::{Target, render, text_file};
    let renderer = loaded(&[
        ("both/text.tera", "Kính gửi {{ row.id }}, thư dài"),
        ("both/sms.tera", "SMS {{ row.id }}"),
        ("both/subject.tera", "BHYT"),
        ("plain/text.tera", "Nhắc {{ row.id }}"),
    ]);
    assert_eq!(renderer.parts("both").map(|p| p.sms), Some(true));
    assert_eq!(renderer.parts("plain").map(|p| p.sms), Some(false));
    let text = |kind, template| {
        assert_eq!(
            text_file(&renderer, kind, template),
            if kind == ChannelKind::Webhook && template == "both" {
                "sms.tera"
            } else {
                "text.tera"
            }
        );
        let target = Target {
            kind,
            template,
            body_template: None,
            address: "84912000001",
            message_id: "m1",
        };
        let mut ctx = ctx(json!({ "row": { "id": "r1" } }));
        render(&renderer, &target, &mut ctx)
            .unwrap_or_else(|e| panic!("render: {e}"))
            .text
    };
    assert_eq!(
        text(ChannelKind::Webhook, "both").as_deref(),
        Some("SMS r1")
    );
    assert_eq!(
        text(ChannelKind::Smtp, "both").as_deref(),
        Some("Kính gửi r1, thư dài")
    );
    assert_eq!(
        text(ChannelKind::Webhook, "plain").as_deref(),
        Some("Nhắc r1")
    );
}

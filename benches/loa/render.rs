//! Rendering: the shipped `parent_notice` template (templates/parent_notice/), Vietnamese
//! text with five variables — the parent's and the pupil's names, the joined school's name,
//! the period's end through the `vn_date` filter, the occurrence's slogan — in its plain-text
//! and its HTML (autoescaped) part, with the full context a message is rendered with
//! (`campaign`, `step`, `occurrence`, `slogan`, `messages`, `row` and the joined `school`).

use std::collections::HashMap;
use std::hint::black_box;
use std::sync::OnceLock;

use criterion::Criterion;
use loa::audience::CsvSource;
use serde_json::{Value, json};

use crate::fixture::{fixture, repo};

pub(crate) fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("render");
    for (id, template) in [
        ("parent_notice_text", "parent_notice/text.tera"),
        ("parent_notice_html", "parent_notice/html.tera"),
    ] {
        g.bench_function(id, |b| {
            let renderer = &fixture().workspace.renderer;
            let ctx = context();
            let text = renderer.render(template, ctx).expect("rendered");
            let pupil = ctx.get("row").and_then(|r| r["full_name"].as_str());
            assert!(text.contains(pupil.expect("a name")), "{text}");
            let slogan = ctx.get("slogan").and_then(|s| s.as_str());
            assert!(text.contains(slogan.expect("a slogan")), "{text}");
            b.iter(|| black_box(renderer.render(template, ctx).expect("rendered")))
        });
    }
    g.finish();
}

/// The context of the `parent-notice` step's first occurrence for the first uninsured pupil
/// of the generated file, shaped as `campaign::context` builds it.
fn context() -> &'static tera::Context {
    static CONTEXT: OnceLock<tera::Context> = OnceLock::new();
    CONTEXT.get_or_init(|| {
        let f = fixture();
        let campaign = f.campaign();
        let step = campaign.step("parent-notice").expect("the parent-notice step");
        let columns = &campaign.audiences[&step.audience].columns;
        let row = CsvSource::open(&f.students, columns)
            .expect("the students file")
            .map(|r| r.expect("a readable row").row)
            .find(|row| row["insured"] == Value::Bool(false))
            .expect("an uninsured pupil");
        let school = CsvSource::open(&repo().join("campaigns/data/schools.csv"), &HashMap::new())
            .expect("the schools file")
            .map(|r| r.expect("a readable row").row)
            .find(|s| s["school_id"] == row["school_id"])
            .expect("the pupil's school");
        let at = campaign.send_times(step).expect("occurrences")[0];
        let slogans = &campaign.messages["slogans"];
        let range = |start: &dyn ToString, end: &dyn ToString| {
            json!({"start": start.to_string(), "end": end.to_string()})
        };
        let period = &campaign.calendar.period;
        let windows: serde_json::Map<String, Value> = campaign
            .windows
            .iter()
            .map(|(name, w)| (name.clone(), range(&w.start, &w.end)))
            .collect();
        let value = json!({
            "campaign": {
                "id": campaign.id, "title": campaign.title, "status": "active",
                "period": range(&period.start, &period.end),
                "windows": windows,
            },
            "step": {
                "id": step.id, "audience": step.audience, "channel": step.channels[0],
                "channels": step.channels, "template": step.template, "send": step.send_text,
                "within": step.within,
            },
            "occurrence": {"at": at.to_rfc3339(), "n": 1},
            "slogan": slogans[0],
            "messages": campaign.messages,
            "row": row,
            "school": school,
        });
        tera::Context::from_value(value).expect("an object")
    })
}

//! Template parse and render: the input is a template (before the first NUL byte) and a
//! JSON context (after it). The template is loaded as `templates/t/text.tera` next to the
//! shipped templates' filters and sandbox, and rendered with the fuzzed context when it is a
//! JSON object, or with a context shaped like loa's own otherwise. Load and render errors
//! are expected answers; a panic, an abort or a hang is a finding.

#![no_main]

#[path = "common.rs"]
mod common;

use libfuzzer_sys::fuzz_target;
use loa::render::Renderer;

fuzz_target!(|data: &[u8]| {
    let (template, context) = match data.iter().position(|&b| b == 0) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &b""[..]),
    };
    let dir = common::scratch().join("templates");
    common::write(&dir.join("t/text.tera"), template);
    common::write(
        &dir.join("u/text.tera"),
        b"{{ student.full_name | default(value=\"\") }}",
    );
    let Ok(renderer) = Renderer::load(&dir) else {
        return;
    };
    let value = match serde_json::from_slice::<serde_json::Value>(context) {
        Ok(v @ serde_json::Value::Object(_)) => v,
        _ => serde_json::json!({
            "student": {"full_name": "Nguyễn Văn A", "grade": 3, "dob": "2018-01-08",
                        "insured": false, "fee": "1263600.50", "tags": ["a", "b"]},
            "campaign": {"id": "c", "title": "BHYT"},
            "occurrence": {"n": 2, "date": "2026-09-01"},
        }),
    };
    let Ok(ctx) = tera::Context::from_value(value) else {
        return;
    };
    if let Ok(out) = renderer.render("t/text.tera", &ctx) {
        assert!(out.len() <= loa::render::MAX_OUTPUT_BYTES);
    }
});

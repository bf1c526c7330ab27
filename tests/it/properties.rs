//! The properties of R20 (docs/reliability.md#r20), run by the normal test command: the
//! functions the `cargo fuzz` targets drive (fuzz/, docs/fuzzing.md), over generated inputs —
//! the campaign file to the validated model, the audience CSV reader, the phone normaliser, the
//! callback verifiers and receipt parser, and template parse and render. Few cases each (the
//! fuzzers run the long searches); a failure prints the input that shrank out of it.

use std::collections::HashMap;
use std::path::Path;

use hmac::{Hmac, Mac};
use loa::audience::phone::normalize;
use loa::audience::{ColumnType, CsvSource};
use loa::campaign::{DataScan, EnvPolicy, LoadOptions, Secret, Workspace};
use loa::channel::webhook::sign;
use loa::render::Renderer;
use loa::store::ReceiptStatus;
use loa::web::callback::parse_receipt;
use loa::web::signature::{SignatureError, verify_loa, verify_zalo};
use proptest::prelude::*;
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

const NOW_MS: i64 = 1_780_000_000_000;

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

// ---- phone numbers -------------------------------------------------------------------------

/// Ten digits starting with 0: a national number, mobile or not.
fn national() -> impl Strategy<Value = String> {
    "0[0-9]{9}"
}

/// `national` (accepted as `84xxxxxxxxx`) written the ways people write it.
fn respell(normal: &str, style: u8, sep: &str) -> String {
    let sub = &normal[2..];
    let grouped = format!("{}{sep}{}{sep}{}", &sub[..3], &sub[3..6], &sub[6..]);
    match style % 5 {
        0 => format!("0{grouped}"),
        1 => format!("84{sep}{grouped}"),
        2 => format!("+84{sep}{grouped}"),
        3 => format!("(+84){sep}{grouped}"),
        _ => format!("  0{sub}  "),
    }
}

proptest! {
    #![proptest_config(config(256))]

    #[test]
    fn the_phone_normaliser_never_panics_and_what_it_accepts_is_84_and_nine_digits(
        raw in prop_oneof![any::<String>(), "[0-9 +.()e-]{0,16}"],
    ) {
        if let Ok(phone) = normalize(&raw) {
            prop_assert_eq!(phone.len(), 11);
            prop_assert!(phone.starts_with("84") && phone.bytes().all(|b| b.is_ascii_digit()));
            prop_assert_eq!(normalize(&phone), Ok(phone.clone()), "normalising twice");
        }
    }

    #[test]
    fn an_accepted_number_reads_the_same_in_every_spelling(
        n in national(),
        style in any::<u8>(),
        sep in prop_oneof![Just(" "), Just("."), Just("-"), Just("")],
    ) {
        if let Ok(normal) = normalize(&n) {
            let written = respell(&normal, style, sep);
            prop_assert_eq!(normalize(&written), Ok(normal), "{:?}", written);
        }
    }
}

// ---- the audience CSV reader ----------------------------------------------------------------

/// A text cell without surrounding spaces: letters (Vietnamese ones too), digits, and the
/// characters CSV must quote.
fn cell() -> impl Strategy<Value = String> {
    "[a-zA-Zđăâêôơưạảấ0-9,\";' ]{0,12}".prop_map(|s| format!("x{}", s.trim_end()))
}

fn write_csv(path: &Path, rows: &[(String, String)]) {
    let mut w = csv::Writer::from_path(path).unwrap();
    w.write_record(["id", "name", "note"]).unwrap();
    for (i, (name, note)) in rows.iter().enumerate() {
        w.write_record([format!("r{i}"), name.clone(), note.clone()])
            .unwrap();
    }
    w.flush().unwrap();
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn the_csv_reader_gives_back_what_a_csv_writer_wrote(
        rows in prop::collection::vec((cell(), cell()), 0..20),
        crlf in any::<bool>(),
        bom in any::<bool>(),
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("people.csv");
        write_csv(&path, &rows);
        let mut bytes = std::fs::read(&path).unwrap();
        if crlf {
            bytes = String::from_utf8(bytes).unwrap().replace('\n', "\r\n").into_bytes();
        }
        if bom {
            bytes.splice(0..0, [0xEF, 0xBB, 0xBF]);
        }
        std::fs::write(&path, bytes).unwrap();
        let columns: HashMap<String, ColumnType> = [("name", ColumnType::Text), ("note", ColumnType::Text)]
            .into_iter()
            .map(|(c, t)| (c.to_string(), t))
            .collect();
        let source = CsvSource::open(&path, &columns).unwrap();
        prop_assert_eq!(source.headers(), ["id", "name", "note"]);
        let read: Vec<(String, String)> = source
            .map(|r| {
                let r = r.unwrap();
                let text = |c: &str| r.row.get(c).and_then(Value::as_str).unwrap_or("?").to_string();
                (text("name"), text("note"))
            })
            .collect();
        prop_assert_eq!(read, rows);
    }

    #[test]
    fn the_csv_reader_never_panics_on_any_bytes(
        bytes in prop::collection::vec(any::<u8>(), 0..400),
        header in prop_oneof![Just(&b"id,phone,email\n"[..]), Just(&b""[..])],
    ) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("data.csv");
        std::fs::write(&path, [header, &bytes[..]].concat()).unwrap();
        let columns: HashMap<String, ColumnType> = [("phone", ColumnType::Phone), ("email", ColumnType::Email)]
            .into_iter()
            .map(|(c, t)| (c.to_string(), t))
            .collect();
        for declared in [HashMap::new(), columns] {
            if let Ok(source) = CsvSource::open(&path, &declared) {
                for record in source {
                    if let Err(e) = record {
                        prop_assert!(e.line >= 1);
                    }
                }
            }
        }
    }
}

// ---- callbacks ------------------------------------------------------------------------------

proptest! {
    #![proptest_config(config(128))]

    #[test]
    fn a_loa_signed_body_verifies_and_any_changed_byte_does_not(
        secret in "[ -~]{1,40}",
        body in prop::collection::vec(any::<u8>(), 0..300),
        flip in any::<prop::sample::Index>(),
        skew in -290i64..290,
    ) {
        let keys = [Secret::new(&secret)];
        let ts = (NOW_MS / 1000 + skew) as u64;
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
        mac.update(ts.to_string().as_bytes());
        mac.update(b".");
        mac.update(&body);
        let sig = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
        if let Ok(text) = std::str::from_utf8(&body) {
            prop_assert_eq!(format!("v1={}", sign(&secret, ts, text)), sig.clone());
        }
        let stamp = ts.to_string();
        prop_assert_eq!(verify_loa(&keys, Some(&stamp), Some(&sig), &body, NOW_MS), Ok(ts as i64));
        if !body.is_empty() {
            let mut changed = body.clone();
            changed[flip.index(body.len())] ^= 0x01;
            prop_assert_eq!(
                verify_loa(&keys, Some(&stamp), Some(&sig), &changed, NOW_MS),
                Err(SignatureError::Mismatch)
            );
        }
        let other = format!("{}", ts + 1);
        prop_assert!(verify_loa(&keys, Some(&other), Some(&sig), &body, NOW_MS).is_err());
    }

    #[test]
    fn the_verifiers_and_the_receipt_parser_never_panic(
        timestamp in prop_oneof![any::<String>(), "[0-9]{0,20}"],
        signature in prop_oneof![any::<String>(), "(v1=|mac=)[0-9a-f]{0,70}"],
        body in prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            "\\{\"(message_id|status|at|error|app_id|timestamp|event_name)\": ?(\"[a-z0-9:T.-]{0,30}\"|[0-9]{1,20}|null|\\{\\})\\}".prop_map(String::into_bytes),
        ],
    ) {
        let keys = [Secret::new("k")];
        let _ = verify_loa(&keys, Some(&timestamp), Some(&signature), &body, NOW_MS);
        let _ = verify_zalo(&keys, None, Some(&signature), &body, NOW_MS);
        let _ = parse_receipt(&body, NOW_MS);
    }

    #[test]
    fn a_zalo_event_signed_with_the_key_verifies_with_its_ids(
        key in "[ -~]{1,40}",
        app in "[0-9]{1,12}",
        msg_id in "[a-f0-9]{1,24}",
        tracking in "[A-Za-z0-9_-]{1,48}",
        skew in -290_000i64..290_000,
    ) {
        let stamp = (NOW_MS + skew).to_string();
        let body = json!({
            "app_id": app, "event_name": "user_received_message", "timestamp": stamp,
            "message": {"msg_id": msg_id, "tracking_id": tracking},
        })
        .to_string();
        let mut hash = Sha256::new();
        hash.update(app.as_bytes());
        hash.update(body.as_bytes());
        hash.update(stamp.as_bytes());
        hash.update(key.as_bytes());
        let mac = format!("mac={}", hex::encode(hash.finalize()));
        let event = verify_zalo(&[Secret::new(&key)], Some(&app), Some(&mac), body.as_bytes(), NOW_MS);
        let event = event.map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(event.msg_id.as_deref(), Some(msg_id.as_str()));
        prop_assert_eq!(event.tracking_id.as_deref(), Some(tracking.as_str()));
        let wrong = verify_zalo(&[Secret::new(format!("{key}x"))], None, Some(&mac), body.as_bytes(), NOW_MS);
        prop_assert_eq!(wrong.err(), Some(SignatureError::Mismatch));
    }

    #[test]
    fn a_receipt_names_its_message_and_status(
        id in "[A-Za-z0-9_-]{1,48}",
        failed in any::<bool>(),
        error in "[ -~]{0,40}",
    ) {
        let body = if failed {
            json!({"message_id": id, "status": "failed", "error": error})
        } else {
            json!({"message_id": id, "status": "delivered"})
        };
        let (named, status) = parse_receipt(body.to_string().as_bytes(), NOW_MS)
            .map_err(TestCaseError::fail)?;
        prop_assert_eq!(named, id);
        match status {
            ReceiptStatus::Failed { error: e } => prop_assert!(failed && e == error),
            ReceiptStatus::Delivered { .. } => prop_assert!(!failed),
        }
    }
}

// ---- templates --------------------------------------------------------------------------------

/// Pieces of Tera text: plain text, output, tags, filters, and broken pieces of each.
fn template() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z đăâ.,!]{0,10}",
        Just("{{ row.name }}".to_string()),
        Just("{{ row.n + 1 }}".to_string()),
        Just("{{ row.name | upper }}".to_string()),
        Just("{{ row.missing }}".to_string()),
        Just("{% if row.n > 1 %}".to_string()),
        Just("{% endif %}".to_string()),
        Just("{% for x in row.items %}{{ x }}".to_string()),
        Just("{% endfor %}".to_string()),
        Just("{% set y = 3 %}{{ y }}".to_string()),
        Just("{{".to_string()),
        Just("}}".to_string()),
        Just("{%".to_string()),
        Just("{# note #}".to_string()),
        Just("{{ get_env(name=\"HOME\") }}".to_string()),
        Just("{% include \"u/text.tera\" %}".to_string()),
        // Refused at load (a cycle), never a stack overflow.
        Just("{% include \"t/text.tera\" %}".to_string()),
        Just("{{ range(end=100) | length }}".to_string()),
    ];
    prop::collection::vec(piece, 0..8).prop_map(|p| p.concat())
}

fn render_one(part: &str, text: &str, value: &Value) -> Result<Result<String, String>, String> {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("t")).unwrap();
    std::fs::create_dir_all(dir.path().join("u")).unwrap();
    std::fs::write(dir.path().join("u/text.tera"), "{{ row.name }}").unwrap();
    std::fs::write(dir.path().join("t").join(part), text).unwrap();
    let renderer = Renderer::load(dir.path()).map_err(|e| format!("{e:?}"))?;
    let ctx = tera::Context::from_value(value.clone()).unwrap();
    Ok(renderer
        .render(&format!("t/{part}"), &ctx)
        .map_err(|e| e.to_string()))
}

proptest! {
    #![proptest_config(config(64))]

    #[test]
    fn templates_load_or_fail_and_render_or_fail_without_panicking(text in template(), n in 0i64..5) {
        let ctx = json!({"row": {"name": "Nguyễn <An>", "n": n, "items": ["a", "b"]}});
        if let Ok(Ok(out)) = render_one("text.tera", &text, &ctx) {
            prop_assert!(out.len() <= loa::render::MAX_OUTPUT_BYTES);
            // The sandbox has no `get_env`: it never reads the environment.
            prop_assert!(!text.starts_with("{{ get_env"), "{}", out);
        }
    }

    #[test]
    fn html_output_escapes_any_value_and_text_output_keeps_it(value in any::<String>()) {
        let ctx = json!({"row": {"v": value}});
        let html = render_one("html.tera", "<p>{{ row.v }}</p>", &ctx)
            .map_err(TestCaseError::fail)?
            .map_err(TestCaseError::fail)?;
        let inner = html.strip_prefix("<p>").and_then(|h| h.strip_suffix("</p>")).unwrap();
        prop_assert!(!inner.contains(['<', '>', '"']), "{}", html);
        let text = render_one("text.tera", "{{ row.v }}", &ctx)
            .map_err(TestCaseError::fail)?
            .map_err(TestCaseError::fail)?;
        prop_assert_eq!(text, value);
    }
}

// ---- campaign files -----------------------------------------------------------------------------

/// The example workspace's campaign file with one line dropped, repeated or cut short.
fn mutated_example() -> impl Strategy<Value = String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(root.join("campaigns/bhyt-hssv-2026-2027.yaml")).unwrap();
    let lines: Vec<String> = text.lines().map(str::to_string).collect();
    let n = lines.len();
    (0..n, 0u8..3, 0usize..40).prop_map(move |(at, how, cut)| {
        let mut l = lines.clone();
        match how {
            0 => {
                l.remove(at);
            }
            1 => l.insert(at, l[at].clone()),
            _ => {
                let keep: String = l[at].chars().take(cut).collect();
                l[at] = keep;
            }
        }
        l.join("\n")
    })
}

fn load(text: &str) -> (bool, bool) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    for f in ["schools.csv", "staff.csv", "students.csv"] {
        std::fs::copy(root.join("campaigns/data").join(f), data.join(f)).unwrap();
    }
    let file = dir.path().join("c.yaml");
    std::fs::write(&file, text).unwrap();
    let opts = LoadOptions {
        env: EnvPolicy::Optional,
        data: DataScan::Headers,
    };
    let (ws, diags) = Workspace::load_with_env(&[file], &root.join("templates"), opts, &|_| None);
    (ws.is_some(), diags.has_errors())
}

proptest! {
    #![proptest_config(config(48))]

    #[test]
    fn a_campaign_file_loads_or_is_refused_with_errors_and_never_panics(
        text in prop_oneof![mutated_example(), any::<String>(), "[a-z_]{1,8}: [a-z0-9{}\\[\\]:, -]{0,30}\n{0,3}"],
    ) {
        let (model, errors) = load(&text);
        prop_assert_eq!(model, !errors);
    }
}

//! DKIM signatures of the SMTP channel (docs/reliability.md#r18), checked by an
//! implementation that is not lettre's: dkimpy, Debian's `python3-dkim`, run on the bytes
//! the real SMTP server received, with the test key's public half as the DNS record.
//!
//! Without dkimpy the test says so and passes, except under `CI=true`, where it must run
//! (`.ci/run` installs `python3-dkim`).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use loa::campaign::{Dkim, DkimAlgorithm, Secret};
use loa::channel::{self, MemoryTokenStore};

use crate::support::mime::Part;
use crate::support::smtp_sink::SmtpSink;
use crate::support::{email, smtp_channel};

const SELECTOR: &str = "loa2026";
const DOMAIN: &str = "example.vn";

/// Prints `pass` or `fail` for the message in argv[1], with argv[2] as the public key of
/// `loa2026._domainkey.example.vn` and no other name resolving.
const VERIFY: &str = r#"
import sys, dkim
message = open(sys.argv[1], 'rb').read()
record = b'v=DKIM1; k=rsa; p=' + open(sys.argv[2], 'rb').read().strip()
def txt(name, timeout=5):
    return record if name == b'loa2026._domainkey.example.vn.' else None
print('pass' if dkim.verify(message, dnsfunc=txt) else 'fail')
"#;

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name)
}

/// Debian's Python, which `python3-dkim` installs into, when it has dkimpy.
fn dkimpy() -> Option<&'static str> {
    ["/usr/bin/python3", "python3"].into_iter().find(|py| {
        Command::new(py)
            .args(["-c", "import dkim"])
            .output()
            .is_ok_and(|o| o.status.success())
    })
}

fn verify(python: &str, message: &[u8]) -> String {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("message.eml");
    std::fs::write(&file, message).unwrap();
    let out = Command::new(python)
        .arg("-c")
        .arg(VERIFY)
        .arg(&file)
        .arg(fixture("dkim-test-rsa.pub"))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[tokio::test]
async fn a_signed_email_verifies_and_its_signature_covers_the_unsubscribe_headers() {
    let Some(python) = dkimpy() else {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI must run the DKIM test: install python3-dkim"
        );
        println!("skipped: no python3 with dkimpy (apt-get install python3-dkim)");
        return;
    };
    let sink = SmtpSink::start().await;
    let mut ch = smtp_channel(&sink.url(), "Bảo hiểm xã hội Việt Nam <tt@example.vn>");
    ch.headers
        .insert("Reply-To".into(), Secret::new("hotro@example.vn"));
    ch.dkim = Some(Dkim {
        domain: DOMAIN.into(),
        selector: SELECTOR.into(),
        key: Secret::new(std::fs::read_to_string(fixture("dkim-test-rsa.pem")).unwrap()),
        algorithm: DkimAlgorithm::Rsa,
    });
    let ch = channel::build(&ch, None, "bhyt", Arc::new(MemoryTokenStore::new())).unwrap();
    let mut msg = email(
        "bhyt-d1",
        "phuhuynh@example.test",
        "Nhắc đóng BHYT học sinh năm học 2026–2027: hạn cuối 31/12, xin phụ huynh lưu ý",
    );
    msg.unsubscribe_url = Some("https://loa.example.vn/unsubscribe/tok123".into());
    ch.send(&msg).await.expect("accepted");

    let raw = sink.received()[0].data.clone();
    assert_eq!(verify(python, &raw), "pass");
    let text = String::from_utf8(raw.clone()).unwrap();
    let m = Part::parse(&text);
    let signature = m.one("DKIM-Signature").replace([' ', '\t', '\r', '\n'], "");
    assert!(signature.contains("a=rsa-sha256;"), "{signature}");
    assert!(signature.contains("d=example.vn;s=loa2026;c=relaxed/relaxed;"));
    let h = signature
        .split(';')
        .find_map(|t| t.strip_prefix("h="))
        .unwrap()
        .to_ascii_lowercase();
    for header in [
        "from",
        "to",
        "subject",
        "message-id",
        "list-unsubscribe",
        "list-unsubscribe-post",
        "reply-to",
    ] {
        assert!(h.split(':').any(|x| x == header), "{header} not in h={h}");
    }

    // The same check fails once anything signed changes on the way.
    let tampered = text.replace("tok123", "tok124");
    assert_ne!(tampered, text);
    assert_eq!(verify(python, tampered.as_bytes()), "fail");
    let body_changed = text.replacen("\r\n\r\n", "\r\n\r\nX", 1);
    assert_eq!(verify(python, body_changed.as_bytes()), "fail");

    // A text-only message, without the unsubscribe headers, verifies too.
    let mut plain = email("bhyt-d2", "phuhuynh2@example.test", "BHYT");
    plain.rendered.html = None;
    ch.send(&plain).await.expect("accepted");
    assert_eq!(verify(python, &sink.received()[1].data), "pass");
}

#[test]
fn a_key_that_does_not_parse_stops_the_channel_with_the_field_named() {
    let mut ch = smtp_channel("smtp://127.0.0.1:2525", "tt@example.vn");
    ch.dkim = Some(Dkim {
        domain: DOMAIN.into(),
        selector: SELECTOR.into(),
        key: Secret::new("-----BEGIN PRIVATE KEY-----\nnot a key\n-----END PRIVATE KEY-----"),
        algorithm: DkimAlgorithm::Rsa,
    });
    let err = channel::build(&ch, None, "bhyt", Arc::new(MemoryTokenStore::new()))
        .err()
        .expect("refused");
    let text = format!("{err:#}");
    assert!(text.contains("`dkim.key` does not parse"), "{text}");
    assert!(!text.contains("not a key"), "the key is not echoed: {text}");
    ch.dkim.as_mut().unwrap().key = Secret::new("");
    let err = channel::build(&ch, None, "bhyt", Arc::new(MemoryTokenStore::new()))
        .err()
        .expect("refused");
    assert!(format!("{err:#}").contains("`dkim.key` is empty"));
}

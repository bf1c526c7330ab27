//! The callback verifiers and payload parsers. The input is a body and the header texts
//! around it; each is tried as sent (the verifiers must refuse garbage without a panic) and
//! then with a signature that does verify, so the payload parsers behind them see the
//! body too.

#![no_main]

use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use loa::campaign::Secret;
use loa::web::callback::parse_receipt;
use loa::web::signature::{verify_loa, verify_zalo};
use sha2::{Digest, Sha256};

const NOW_MS: i64 = 1_780_000_000_000;

fuzz_target!(|data: &[u8]| {
    // `timestamp \n signature \n body`: the header texts are what a client can send.
    let mut parts = data.splitn(3, |&b| b == b'\n');
    let timestamp = parts.next().and_then(|t| std::str::from_utf8(t).ok());
    let signature = parts.next().and_then(|s| std::str::from_utf8(s).ok());
    let body = parts.next().unwrap_or_default();
    let secret = Secret::new("whsec-fuzz");
    let keys = [secret.clone()];

    if let Ok(seconds) = verify_loa(&keys, timestamp, signature, body, NOW_MS) {
        assert!((seconds * 1000 - NOW_MS).abs() <= 300_000);
    }
    let _ = verify_zalo(&keys, None, signature, body, NOW_MS);
    let _ = verify_zalo(&keys, Some("app"), signature, body, NOW_MS);

    // The same body correctly signed with loa's scheme must verify, then parse or be refused.
    let stamp = (NOW_MS / 1000).to_string();
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()).unwrap();
    mac.update(stamp.as_bytes());
    mac.update(b".");
    mac.update(body);
    let good = format!("v1={}", hex::encode(mac.finalize().into_bytes()));
    assert_eq!(
        verify_loa(&keys, Some(&stamp), Some(&good), body, NOW_MS),
        Ok(NOW_MS / 1000)
    );
    let _ = parse_receipt(body, NOW_MS);

    // And with Zalo's scheme, over the app id and timestamp the body itself names.
    if let Ok(event) = serde_json::from_slice::<serde_json::Value>(body) {
        let field = |name: &str| match event.get(name) {
            Some(serde_json::Value::String(s)) => s.clone(),
            Some(serde_json::Value::Number(n)) => n.to_string(),
            _ => String::new(),
        };
        let mut hash = Sha256::new();
        hash.update(field("app_id").as_bytes());
        hash.update(body);
        hash.update(field("timestamp").as_bytes());
        hash.update(secret.expose().as_bytes());
        let mac = format!("mac={}", hex::encode(hash.finalize()));
        let _ = verify_zalo(&keys, None, Some(&mac), body, NOW_MS);
    }
});

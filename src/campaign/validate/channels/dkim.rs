//! `dkim:` of an smtp channel: the domain and selector that sign, the algorithm, and a key
//! that the signer accepts.

use crate::campaign::check::{Checker, suggest};
use crate::campaign::locate::FieldPath;
use crate::campaign::model::{Dkim, DkimAlgorithm, Secret};
use crate::campaign::spec::DkimSpec;

/// `dkim:` of an smtp channel: every field there, a known algorithm, and a key that
/// parses as one (when the environment gave it: `loa validate` may run without).
pub(super) fn dkim(spec: &DkimSpec, path: &FieldPath, c: &mut Checker<'_>) -> Option<Dkim> {
    missing_fields(spec, path, c);
    let algorithm = algorithm(spec.algorithm.as_deref(), path, c)?;
    // Empty when `loa validate` ran without the environment; the channel refuses to start
    // with an empty key.
    let key = spec.key.clone().unwrap_or_default();
    if !key.trim().is_empty()
        && let Err(why) = signing_key(&key, algorithm)
    {
        c.error(
            &path.key("key"),
            format!("the DKIM key does not parse: {why}"),
            key_hint(algorithm),
        );
        return None;
    }
    Some(Dkim {
        domain: spec.domain.clone()?.trim().to_owned(),
        selector: spec.selector.clone()?.trim().to_owned(),
        key: Secret::new(key),
        algorithm,
    })
}

/// Domain, selector and key are all in the file. One written there but empty, a `${NAME}`
/// the environment lacks, is not missing: `load` reports the variable.
fn missing_fields(spec: &DkimSpec, path: &FieldPath, c: &mut Checker<'_>) {
    let hints = [
        (
            "domain",
            &spec.domain,
            "the domain that signs, e.g. `domain: bhxh.gov.vn`",
        ),
        (
            "selector",
            &spec.selector,
            "the DNS name of the public key, e.g. `selector: loa2026` for loa2026._domainkey.<domain>",
        ),
        (
            "key",
            &spec.key,
            "write `key: \"${LOA_DKIM_KEY}\"` and put the private key in that variable",
        ),
    ];
    for (field, value, hint) in hints {
        if value.as_deref().is_none_or(|v| v.trim().is_empty()) && c.raw(&path.key(field)).is_none()
        {
            c.missing(&path.key(field), hint);
        }
    }
}

fn algorithm(name: Option<&str>, path: &FieldPath, c: &mut Checker<'_>) -> Option<DkimAlgorithm> {
    match name {
        None | Some("rsa") => Some(DkimAlgorithm::Rsa),
        Some("ed25519") => Some(DkimAlgorithm::Ed25519),
        Some(other) => {
            c.error(
                &path.key("algorithm"),
                format!("unknown DKIM algorithm {other:?}"),
                suggest(other, ["rsa", "ed25519"]),
            );
            None
        }
    }
}

/// The form of key the signer takes for `algorithm`.
fn key_hint(algorithm: DkimAlgorithm) -> &'static str {
    match algorithm {
        DkimAlgorithm::Rsa => {
            "give an RSA private key in PKCS#1 PEM (-----BEGIN RSA PRIVATE KEY-----); \
                 `openssl rsa -in key.pem -traditional` converts a PKCS#8 one"
        }
        DkimAlgorithm::Ed25519 => "give the base64 of the 32-byte Ed25519 seed",
    }
}

/// The lettre signing key for `key`, or why it is not one.
pub(crate) fn signing_key(
    key: &str,
    algorithm: DkimAlgorithm,
) -> Result<lettre::message::dkim::DkimSigningKey, String> {
    use lettre::message::dkim::{DkimSigningAlgorithm, DkimSigningKey};
    let algorithm = match algorithm {
        DkimAlgorithm::Rsa => DkimSigningAlgorithm::Rsa,
        DkimAlgorithm::Ed25519 => DkimSigningAlgorithm::Ed25519,
    };
    // The error says what failed to parse, never the key itself.
    DkimSigningKey::new(key.trim(), algorithm).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dkim_keys_parse_as_pkcs1_rsa_or_an_ed25519_seed_and_errors_do_not_quote_them() {
        let rsa = include_str!("../../../../tests/fixtures/dkim-test-rsa.pem");
        assert!(signing_key(rsa, DkimAlgorithm::Rsa).is_ok());
        assert!(signing_key(rsa, DkimAlgorithm::Ed25519).is_err());
        let seed = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
        assert!(signing_key(seed, DkimAlgorithm::Ed25519).is_ok());
        let half = "nWGxne/9WmC6hEr0kuwsxA==";
        assert!(
            signing_key(half, DkimAlgorithm::Ed25519).is_err(),
            "16 bytes"
        );
        let garbage = "-----BEGIN RSA PRIVATE KEY-----\nc2VjcmV0\n-----END RSA PRIVATE KEY-----";
        let why = signing_key(garbage, DkimAlgorithm::Rsa).unwrap_err();
        assert!(!why.contains("c2VjcmV0"), "{why}");
    }
}

//! The deterministic id of a message, shared with providers.
//!
//! It is identical across retries and restarts, so receivers (and our test sinks) can
//! deduplicate (reliability plan §8 rule 11), and it follows Zalo ZNS's `tracking_id` rule:
//! at most 48 characters of `[A-Za-z0-9_-]`.

use sha2::{Digest, Sha256};

/// `"m"` followed by the first 32 hex digits of SHA-256 over the message's identity
/// (campaign, step, occurrence number, recipient, channel).
///
/// Each field is hashed with its length in front, so no two different field lists hash
/// the same bytes whatever characters the fields contain.
/// A short hex digest of a campaign file, recorded with each load (audit, reload).
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

pub fn message_id(campaign: &str, step: &str, n: u32, recipient: &str, channel: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"loa-message-v1");
    let n = n.to_string();
    for field in [campaign, step, n.as_str(), recipient, channel] {
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field.as_bytes());
    }
    let digest = hash.finalize();
    let mut id = String::with_capacity(33);
    id.push('m');
    for byte in &digest[..16] {
        id.push_str(&format!("{byte:02x}"));
    }
    id
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_id_is_deterministic_short_and_zalo_safe() {
        let id = message_id("bhyt-2026", "parent-notice", 3, "HS00010", "zalo");
        assert_eq!(
            id,
            message_id("bhyt-2026", "parent-notice", 3, "HS00010", "zalo")
        );
        assert_eq!(id.len(), 33);
        assert!(id.len() <= 48);
        assert!(
            id.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        );
    }

    #[test]
    fn message_id_differs_when_any_field_differs_even_if_concatenations_match() {
        let base = message_id("a", "bc", 1, "r", "email");
        assert_ne!(base, message_id("ab", "c", 1, "r", "email"));
        assert_ne!(base, message_id("a", "bc", 11, "r", "email"));
        assert_ne!(base, message_id("a", "bc", 1, "r", "zalo"));
        assert_ne!(base, message_id("a", "bc", 1, "r2", "email"));
        assert_ne!(
            message_id("a|b", "c", 0, "r", "x"),
            message_id("a", "b|c", 0, "r", "x")
        );
    }
}

//! The deterministic id of a message, shared with providers, and content hashes.
//!
//! A message id is `m<row id in hex>-<tag>` (migration 0003): the row id makes it unique
//! and leads back to the row through the primary key ([`message_row`]); the tag, a short
//! hash of the message's identity, tells ids of different ledgers apart. It is identical
//! across retries and restarts, so receivers (and our test sinks) can deduplicate
//! (docs/reliability.md#rule-11), and it follows Zalo ZNS's `tracking_id` rule: at most 48
//! characters of `[A-Za-z0-9_-]` (at most 34 here).

use sha2::{Digest, Sha256};

/// A short hex digest of a campaign file, recorded with each load (audit, reload).
pub fn content_hash(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest[..16].iter().map(|b| format!("{b:02x}")).collect()
}

/// The first 16 hex digits of SHA-256 over the message's identity (campaign, step,
/// occurrence number, recipient, channel), stored in `message.tag`.
///
/// Each field is hashed with its length in front, so no two different field lists hash
/// the same bytes whatever characters the fields contain.
pub fn message_tag(campaign: &str, step: &str, n: u32, recipient: &str, channel: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut hash = Sha256::new();
    hash.update(b"loa-message-v1");
    let n = n.to_string();
    for field in [campaign, step, n.as_str(), recipient, channel] {
        hash.update((field.len() as u64).to_be_bytes());
        hash.update(field.as_bytes());
    }
    let digest = hash.finalize();
    let mut tag = String::with_capacity(16);
    for byte in &digest[..8] {
        tag.push(HEX[usize::from(byte >> 4)] as char);
        tag.push(HEX[usize::from(byte & 0xf)] as char);
    }
    tag
}

/// The message id of row `id` with `tag`: what the `message.message_id` column holds.
pub fn message_id(id: i64, tag: &str) -> String {
    format!("m{id:x}-{tag}")
}

/// The row id inside a message id, if it has the shape of one. The caller still compares
/// the whole id with the row's, so a made-up tag finds nothing.
pub(crate) fn message_row(message_id: &str) -> Option<i64> {
    let (hex, tag) = message_id.strip_prefix('m')?.split_once('-')?;
    if hex.is_empty() || tag.is_empty() || hex.len() > 16 {
        return None;
    }
    i64::from_str_radix(hex, 16).ok().filter(|id| *id > 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_ids_are_short_zalo_safe_and_lead_back_to_their_row() {
        let tag = message_tag("bhyt-2026", "parent-notice", 3, "HS00010", "zalo");
        assert_eq!(
            tag,
            message_tag("bhyt-2026", "parent-notice", 3, "HS00010", "zalo")
        );
        assert_eq!(tag.len(), 16);
        for row in [1, 255, 1_000_000, i64::MAX] {
            let id = message_id(row, &tag);
            assert!(id.len() <= 48, "{id}");
            assert!(
                id.chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            );
            assert_eq!(message_row(&id), Some(row));
        }
        assert_eq!(message_id(255, "ab"), "mff-ab");
    }

    #[test]
    fn strings_that_are_not_message_ids_lead_nowhere() {
        for bad in [
            "",
            "m",
            "m-ab",
            "mzz-ab",
            "x1-ab",
            "m1",
            "m1-",
            "m0-ab",
            "m11111111111111111-a",
        ] {
            assert_eq!(message_row(bad), None, "{bad}");
        }
    }

    #[test]
    fn tags_differ_when_any_field_differs_even_if_concatenations_match() {
        let base = message_tag("a", "bc", 1, "r", "email");
        assert_ne!(base, message_tag("ab", "c", 1, "r", "email"));
        assert_ne!(base, message_tag("a", "bc", 11, "r", "email"));
        assert_ne!(base, message_tag("a", "bc", 1, "r", "zalo"));
        assert_ne!(base, message_tag("a", "bc", 1, "r2", "email"));
        assert_ne!(
            message_tag("a|b", "c", 0, "r", "x"),
            message_tag("a", "b|c", 0, "r", "x")
        );
    }
}

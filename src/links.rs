//! Signed links: the unsubscribe token of a message, made by the dispatcher when it
//! renders an e-mail and checked by the web side when the link is followed.
//!
//! A token is `<message_id>.<base64url(HMAC-SHA256(key, message_id))>`: it names one
//! message and cannot be made for another without the key. A leaf module, so that the
//! dispatcher signs links without reaching into `web`, which re-exports both functions.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use sha2::Sha256;

/// The token for the unsubscribe link of `message_id`, for
/// `{public_url}/unsubscribe/{token}`. URL-safe as it stands.
pub fn unsubscribe_token(key: &[u8], message_id: &str) -> String {
    let tag = mac(key, message_id).finalize().into_bytes();
    format!("{message_id}.{}", URL_SAFE_NO_PAD.encode(tag))
}

/// The message id a token names, when its tag verifies under `key`.
pub(crate) fn token_message_id<'t>(key: &[u8], token: &'t str) -> Option<&'t str> {
    let (message_id, tag) = token.rsplit_once('.')?;
    let id_ok = !message_id.is_empty()
        && message_id.len() <= 48
        && message_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !id_ok || tag.len() > 64 {
        return None;
    }
    let tag = URL_SAFE_NO_PAD.decode(tag).ok()?;
    // Constant-time and length-checked.
    mac(key, message_id).verify_slice(&tag).ok()?;
    Some(message_id)
}

fn mac(key: &[u8], message_id: &str) -> Hmac<Sha256> {
    // HMAC takes keys of any length; `new_from_slice` cannot fail for it.
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC accepts every key length"));
    mac.update(message_id.as_bytes());
    mac
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"unsubscribe-key";

    #[test]
    fn a_token_names_its_message_and_only_under_its_key() {
        let token = unsubscribe_token(KEY, "m0123abc");
        assert!(token.starts_with("m0123abc."));
        assert!(
            token
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        );
        assert_eq!(token_message_id(KEY, &token), Some("m0123abc"));
        assert_eq!(token_message_id(b"other-key", &token), None);
    }

    #[test]
    fn a_forged_or_damaged_token_names_nothing() {
        let token = unsubscribe_token(KEY, "m1");
        let (_, tag) = token.split_once('.').unwrap();
        let moved = format!("m2.{tag}");
        let truncated = &token[..token.len() - 3];
        for bad in [
            "",
            "m1",
            "m1.",
            moved.as_str(),
            truncated,
            "m1.AAAA",
            "../etc.passwd",
            &format!("{token}x"),
        ] {
            assert_eq!(token_message_id(KEY, bad), None, "{bad:?}");
        }
    }
}

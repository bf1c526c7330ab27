//! Masking personal data in texts loa keeps or shows: one place, so the ledger, the logs,
//! `status`, `report` and the dashboard hide the same things the same way.
//!
//! - [`mask_address`] hides the middle of one known address (`84912***678`,
//!   `ng***@example.com`).
//! - [`mask_text`] hides, in free text such as a provider's error, that address and
//!   anything else that is an e-mail address (in any case) or a Vietnamese mobile number in
//!   any common spelling (`0912000001`, `84912000001`, `+84 912 000 001`,
//!   `(+84) 912.000.001`, `0912-000-001`), each masked as its normalised form
//!   (`84912***001`), so one number reads the same however the provider wrote it. Other
//!   runs of 9 or more digits written without separators are masked as they are.
//! - [`mask_url`] hides credentials in a URL (a password, key-like query values), and
//!   [`is_secret_header`] names the headers whose values are credentials ([`REDACTED`]).
//!
//! The store masks every error text, skip reason and event detail before writing it
//! (`store`), so nothing unmasked reaches the database from a provider's answer.

use std::borrow::Cow;

use crate::audience::phone;

/// An address with its middle hidden, for logs and error messages:
/// `84912345678` → `84912***678`, `nguyen@example.com` → `ng***@example.com`.
pub(crate) fn mask_address(a: &str) -> String {
    let a = a.trim();
    if let Some((local, domain)) = a.rsplit_once('@') {
        let keep = if local.chars().count() > 2 { 2 } else { 1 };
        let head: String = local.chars().take(keep).collect();
        return format!("{head}***@{domain}");
    }
    let chars: Vec<char> = a.chars().collect();
    match chars.len() {
        0 => String::new(),
        n if n >= 9 => {
            let head: String = chars[..5].iter().collect();
            let tail: String = chars[n - 3..].iter().collect();
            format!("{head}***{tail}")
        }
        n => {
            let head: String = chars[..n.min(2)].iter().collect();
            format!("{head}***")
        }
    }
}

/// `text` with `address` (may be empty), every e-mail address and every phone number
/// masked; see the module docs. Borrowed back when there was nothing to mask.
pub(crate) fn mask_text<'t>(text: &'t str, address: &str) -> Cow<'t, str> {
    let mut out = Cow::Borrowed(text);
    let address = address.trim();
    if !address.is_empty() && contains_ignoring_case(&out, address) {
        out = Cow::Owned(replace_ignoring_case(&out, address, &mask_address(address)));
    }
    if let Some(masked) = mask_emails(&out) {
        out = Cow::Owned(masked);
    }
    if let Some(masked) = mask_phones(&out) {
        out = Cow::Owned(masked);
    }
    out
}

fn contains_ignoring_case(text: &str, needle: &str) -> bool {
    text.to_ascii_lowercase()
        .contains(&needle.to_ascii_lowercase())
}

/// Replaces each occurrence of `needle` (ASCII case ignored) in `text` by `with`.
fn replace_ignoring_case(text: &str, needle: &str, with: &str) -> String {
    let (hay, pat) = (text.to_ascii_lowercase(), needle.to_ascii_lowercase());
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (at, _) in hay.match_indices(&pat) {
        if at < last {
            continue;
        }
        out.push_str(&text[last..at]);
        out.push_str(with);
        last = at + pat.len();
    }
    out.push_str(&text[last..]);
    out
}

fn is_local_char(c: char) -> bool {
    c.is_alphanumeric() || "._%+-'".contains(c)
}

fn is_domain_char(c: char) -> bool {
    c.is_alphanumeric() || c == '.' || c == '-'
}

/// Every `local@domain` masked; `None` when there is none. An already masked address
/// (`ng***@example.com`) has no local part left and stays as it is.
fn mask_emails(text: &str) -> Option<String> {
    if !text.contains('@') {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut changed = false;
    for (at, _) in text.match_indices('@') {
        if at < last {
            continue;
        }
        let start = text[..at]
            .char_indices()
            .rev()
            .take_while(|&(_, c)| is_local_char(c))
            .last()
            .map_or(at, |(i, _)| i);
        let after = &text[at + 1..];
        let domain_len: usize = after
            .chars()
            .take_while(|&c| is_domain_char(c))
            .map(char::len_utf8)
            .sum();
        let domain = after[..domain_len].trim_end_matches(['.', '-']);
        let local = text[start..at].trim_start_matches(['.', '\'']);
        let start = at - local.len();
        if local.is_empty() || domain.is_empty() {
            continue;
        }
        let end = at + 1 + domain.len();
        out.push_str(&text[last..start]);
        out.push_str(&mask_address(&text[start..end]));
        last = end;
        changed = true;
    }
    out.push_str(&text[last..]);
    changed.then_some(out)
}

/// Separators allowed between the digit groups of a written phone number.
fn is_separator(b: u8) -> bool {
    matches!(b, b' ' | b'.' | b'-' | b'(' | b')')
}

/// Every phone number masked (see the module docs); `None` when there is none.
fn mask_phones(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    let mut changed = false;
    let mut i = 0;
    while i < bytes.len() {
        // `0…`, `84…`, `+84…` or `(+84)…`.
        let rest = &bytes[i..];
        let starts = rest[0].is_ascii_digit()
            || (rest.starts_with(b"+") && rest.get(1).is_some_and(u8::is_ascii_digit))
            || (rest.starts_with(b"(+") && rest.get(2).is_some_and(u8::is_ascii_digit));
        // A number starts at a word boundary, not inside `abc123` or `84912***001`.
        let boundary = i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'*');
        if !(starts && boundary) {
            i += 1;
            continue;
        }
        let groups = phone_run(bytes, i);
        match masked_number(bytes, &groups, bytes[i] == b'+') {
            Some((end, masked)) => {
                out.push_str(&text[last..i]);
                out.push_str(&masked);
                last = end;
                changed = true;
                i = end;
            }
            // Its later groups may still start a number (`2026-12-07 0912000001`).
            None => i = groups.first().map_or(i + 1, |g| g.end.max(i + 1)),
        }
    }
    out.push_str(&text[last..]);
    changed.then_some(out)
}

/// A run of digit groups up to the end of one of its groups.
struct Prefix {
    end: usize,
    digits: String,
    separated: bool,
}

/// From `start`: each prefix of the run of digit groups that starts there, shortest
/// first. At most two separators go between groups (`) `, ` -`).
fn phone_run(bytes: &[u8], start: usize) -> Vec<Prefix> {
    let mut i = start;
    while i < bytes.len() && matches!(bytes[i], b'+' | b'(') {
        i += 1;
    }
    let mut prefixes: Vec<Prefix> = Vec::new();
    let mut digits = String::new();
    loop {
        while i < bytes.len() && bytes[i].is_ascii_digit() {
            digits.push(bytes[i] as char);
            i += 1;
        }
        prefixes.push(Prefix {
            end: i,
            digits: digits.clone(),
            separated: !prefixes.is_empty(),
        });
        let gap = bytes[i..]
            .iter()
            .take(3)
            .take_while(|&&b| is_separator(b))
            .count();
        let more = gap > 0 && gap <= 2 && bytes.get(i + gap).is_some_and(u8::is_ascii_digit);
        // Beyond 15 digits it is no phone number, whatever follows.
        if !more || digits.len() > 15 {
            return prefixes;
        }
        i += gap;
    }
}

/// The end and masked form of the number at the start of a run: its longest prefix that is
/// a Vietnamese mobile number, else the whole run when it is 9+ digits without separators
/// or after a `+`. Digits glued to letters (`0912000001abc`) are some other token.
fn masked_number(bytes: &[u8], prefixes: &[Prefix], plus: bool) -> Option<(usize, String)> {
    let glued = |end: usize| bytes.get(end).is_some_and(u8::is_ascii_alphanumeric);
    for p in prefixes.iter().rev() {
        if p.digits.len() >= 9
            && !glued(p.end)
            && let Ok(normal) = phone::normalize(&p.digits)
        {
            return Some((p.end, mask_address(&normal)));
        }
    }
    let whole = prefixes.last()?;
    let other = whole.digits.len() >= 9 && (!whole.separated || plus) && !glued(whole.end);
    other.then(|| (whole.end, mask_address(&whole.digits)))
}

/// Hides credentials in a URL: the userinfo password and query values whose names look
/// like credentials (`?access-token=…`, `?api_key=…`).
pub(crate) fn mask_url(url: &str) -> String {
    let Ok(mut u) = url::Url::parse(url) else {
        // An unset variable under --outbox is no secret; anything else unparsable may be.
        let unset = url.is_empty() || (url.starts_with("${") && url.ends_with('}'));
        return if unset {
            url.to_string()
        } else {
            REDACTED.to_string()
        };
    };
    if u.password().is_some() {
        let _ = u.set_password(Some(REDACTED));
    }
    if u.query().is_some() {
        let pairs: Vec<(String, String)> = u
            .query_pairs()
            .map(|(k, v)| {
                let v = if is_secret_header(&k) {
                    REDACTED.to_string()
                } else {
                    v.into_owned()
                };
                (k.into_owned(), v)
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
    }
    u.to_string()
}

/// Header names whose values are credentials, masked in outbox files and never printed.
pub(crate) fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    if n == "idempotency-key" {
        return false;
    }
    n == "authorization"
        || n == "proxy-authorization"
        || n == "cookie"
        || ["token", "secret", "signature", "key", "password"]
            .iter()
            .any(|w| n.contains(w))
}

/// What stands in for a credential wherever one would be shown.
pub(crate) const REDACTED: &str = "[REDACTED]";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_masked_in_the_middle() {
        assert_eq!(mask_address("84912345678"), "84912***678");
        assert_eq!(mask_address("nguyen@example.com"), "ng***@example.com");
        assert_eq!(mask_address("an@example.com"), "a***@example.com");
        assert_eq!(mask_address("ả@ví.vn"), "ả***@ví.vn");
        assert_eq!(mask_address("1234"), "12***");
        assert_eq!(mask_address(""), "");
    }

    #[test]
    fn a_phone_number_in_any_vietnamese_spelling_is_masked_as_its_normal_form() {
        for spelling in [
            "84912000001",
            "0912000001",
            "84 912 000 001",
            "+84 912 000 001",
            "+84912000001",
            "0912.000.001",
            "0912-000-001",
            "0912 000 001",
            "(+84) 912 000 001",
            "(+84) 912-000-001",
            "+84-912-000-001",
        ] {
            let text = format!("recipient <{spelling}> rejected: no such subscriber.");
            assert_eq!(
                mask_text(&text, ""),
                "recipient <84912***001> rejected: no such subscriber.",
                "{spelling}"
            );
        }
        // The old 11-digit prefixes too (0162 → 032).
        assert_eq!(mask_text("to 01621234567", ""), "to 84321***567");
    }

    #[test]
    fn e_mail_addresses_are_masked_whatever_their_case() {
        assert_eq!(
            mask_text("550 <R0.ALICE@EXAMPLE.ORG>: mailbox unavailable", ""),
            "550 <R0***@EXAMPLE.ORG>: mailbox unavailable"
        );
        assert_eq!(
            mask_text("to r0.alice@example.org. Retry", "R0.Alice@Example.org"),
            "to R0***@Example.org. Retry"
        );
        assert_eq!(
            mask_text("rejected: other.person@example.vn", ""),
            "rejected: ot***@example.vn"
        );
    }

    #[test]
    fn other_numbers_and_masked_texts_are_left_alone() {
        for text in [
            "timeout after 30 s",
            "HTTP 429 at 2026-12-07 11:04:19; retry in 3600 s",
            "550 5.1.1 user unknown",
            "error -124: Access token is invalid",
            "recipient <84912***001> and ng***@example.com",
            "order 12345678",
            "",
        ] {
            assert!(matches!(mask_text(text, ""), Cow::Borrowed(_)), "{text}");
        }
        // Digits glued to letters are some other token.
        assert_eq!(mask_text("id abc0912000001", ""), "id abc0912000001");
        assert_eq!(mask_text("(0912000001)", ""), "(84912***001)");
        assert_eq!(
            mask_text(
                "400 bad recipient 0912000001 (84 912 000 001) at 2026-12-07 0912000001",
                ""
            ),
            "400 bad recipient 84912***001 (84912***001) at 2026-12-07 84912***001"
        );
        // A foreign number written with a + is a phone number too; a bare run of 9+ digits
        // is masked as written.
        assert_eq!(mask_text("to +1 415 555 0100", ""), "to 14155***100");
        assert_eq!(mask_text("msisdn 123456789012", ""), "msisdn 12345***012");
    }

    #[test]
    fn masking_twice_changes_nothing_more() {
        let once = mask_text(
            "84 912 000 001, 0912000001, R0.ALICE@EXAMPLE.ORG, +1 415 555 0100",
            "r0.alice@example.org",
        )
        .into_owned();
        assert_eq!(mask_text(&once, ""), once);
        assert!(
            !once.contains("000 001") && !once.contains("ALICE"),
            "{once}"
        );
    }
}

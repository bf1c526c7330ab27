//! Email address cells: the basic `addr-spec` shape of RFC 5322 §3.4.1 (`local@domain`,
//! dot-atom on both sides), with the domain lower-cased because domains are
//! case-insensitive (RFC 5321 §2.4) and the local part left alone because it is not.
//!
//! Quoted local parts, domain literals (`[192.0.2.1]`) and non-ASCII addresses are valid
//! in the RFCs but not in school contact lists; rejecting them catches typing mistakes.

use super::cell::{CellError, clean};

/// Checks one address and returns it trimmed, NFC, with the domain lower-cased.
pub(crate) fn check_email(raw: &str) -> Result<String, String> {
    check(raw).map_err(|e| format!("{}; {}", e.message, e.hint))
}

pub(crate) fn check(raw: &str) -> Result<String, CellError> {
    let text = clean(raw);
    let bad = |why: &str, hint: &str| CellError::new(format!("the address {why}"), hint);
    if text.is_empty() {
        return Err(CellError::new(
            "the email address is empty",
            "fill in the address or leave the row out",
        ));
    }
    if text.contains([';', ',']) || text.matches('@').count() > 1 {
        return Err(bad(
            "holds more than one address",
            "keep one address per cell",
        ));
    }
    if text.contains(['<', '>']) {
        return Err(bad(
            "is not a bare address",
            "write only the address, e.g. hieutruong@thcs-abc.edu.vn, without a name or <>",
        ));
    }
    let Some((local, domain)) = text.split_once('@') else {
        return Err(bad("has no @", "an address looks like name@example.vn"));
    };
    if !is_dot_atom(local, is_atext) || local.len() > 64 {
        return Err(bad(
            "has an invalid part before the @",
            "use letters, digits and . _ - + only, no spaces or accents, no dot at either end",
        ));
    }
    if !is_domain(domain) {
        return Err(bad(
            "has an invalid domain after the @",
            "check the part after @, e.g. gmail.com or thcs-abc.edu.vn",
        ));
    }
    Ok(format!("{local}@{}", domain.to_ascii_lowercase()))
}

/// `atext` of RFC 5322 §3.2.3: ASCII letters, digits and ``!#$%&'*+-/=?^_`{|}~``.
fn is_atext(c: char) -> bool {
    c.is_ascii_alphanumeric() || "!#$%&'*+-/=?^_`{|}~".contains(c)
}

/// Dot-separated non-empty atoms: no leading, trailing or doubled dot.
fn is_dot_atom(s: &str, allowed: fn(char) -> bool) -> bool {
    !s.is_empty()
        && s.split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(allowed))
}

/// A host name with at least two labels (a recipient domain needs a top-level domain), each
/// label letters, digits and inner hyphens, at most 63 octets (RFC 1035 §2.3.4).
fn is_domain(domain: &str) -> bool {
    let label_ok = |l: &str| {
        l.len() <= 63
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let top_ok = domain
        .rsplit('.')
        .next()
        .is_some_and(|tld| tld.chars().any(|c| c.is_ascii_alphabetic()));
    domain.len() <= 253
        && domain.contains('.')
        && is_dot_atom(domain, |c| c.is_ascii_alphanumeric() || c == '-')
        && domain.split('.').all(label_ok)
        && top_ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses_are_trimmed_and_their_domain_lower_cased() {
        assert_eq!(
            check_email("  Hoa.Nguyen@THCS-ABC.Edu.VN "),
            Ok("Hoa.Nguyen@thcs-abc.edu.vn".to_string())
        );
        assert_eq!(
            check_email("a+bhyt_2026@gmail.com"),
            Ok("a+bhyt_2026@gmail.com".to_string())
        );
    }

    #[test]
    fn malformed_addresses_are_rejected_with_a_hint() {
        let cases = [
            ("", "empty"),
            ("hoa.nguyen", "no @"),
            ("hoa@nguyen@gmail.com", "more than one"),
            ("a@x.vn; b@y.vn", "more than one"),
            ("a@x.vn, b@y.vn", "more than one"),
            ("Hoa <hoa@gmail.com>", "not a bare address"),
            ("hoa nguyen@gmail.com", "before the @"),
            (".hoa@gmail.com", "before the @"),
            ("hoa..nguyen@gmail.com", "before the @"),
            ("nguyễn@gmail.com", "before the @"),
            ("@gmail.com", "before the @"),
            ("hoa@", "domain"),
            ("hoa@gmail", "domain"),
            ("hoa@gmail..com", "domain"),
            ("hoa@-gmail.com", "domain"),
            ("hoa@gmail.com.", "domain"),
            ("hoa@[192.0.2.1]", "domain"),
            ("hoa@192.0.2.1", "domain"),
            ("hoa@gmail_com.vn", "domain"),
        ];
        for (raw, expected) in cases {
            let e = check_email(raw).expect_err(raw);
            assert!(e.contains(expected), "{raw:?}: {e}");
            assert!(!e.contains("hoa"), "the value is not quoted: {e}");
        }
    }
}

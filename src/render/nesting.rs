//! Brackets nested too deep inside a tag, refused before Tera parses the text.
//!
//! Tera's parser (pest) backtracks over unclosed `(` and `[` inside a tag, and each level
//! roughly doubles the time: a tag of 18 unclosed calls (`{{ f(a=g(a=…`) took longer than
//! 10 s to be refused, 12 levels 0.75 s (found by the `template` fuzz target, see
//! `docs/fuzzing.md`). Hand-written templates nest a few levels, so loa refuses more than
//! [`MAX_NESTING`] before parsing and `validate`, a hot reload and `preview` stay quick.

/// The deepest nesting of `(` and `[` allowed inside one `{{ }}` or `{% %}` tag.
pub(crate) const MAX_NESTING: usize = 8;

/// The byte offset of the first `(` or `[` that opens a level beyond [`MAX_NESTING`] inside
/// a tag of `source`; quoted strings and `{# #}` comments are skipped.
pub(super) fn too_deep(source: &str) -> Option<usize> {
    let bytes = source.as_bytes();
    let mut i = 0;
    let mut in_tag = false;
    let mut depth = 0usize;
    while i < bytes.len() {
        let pair = (bytes[i], bytes.get(i + 1).copied());
        if !in_tag {
            match pair {
                (b'{', Some(b'{' | b'%')) => {
                    in_tag = true;
                    depth = 0;
                    i += 2;
                }
                (b'{', Some(b'#')) => i = find(bytes, i + 2, b"#}").map_or(bytes.len(), |e| e + 2),
                _ => i += 1,
            }
            continue;
        }
        match pair {
            (b'}' | b'%', Some(b'}')) => {
                in_tag = false;
                i += 2;
            }
            (q @ (b'"' | b'\'' | b'`'), _) => {
                i = bytes[i + 1..]
                    .iter()
                    .position(|&b| b == q)
                    .map_or(bytes.len(), |p| i + p + 2);
            }
            (b'(' | b'[', _) => {
                depth += 1;
                if depth > MAX_NESTING {
                    return Some(i);
                }
                i += 1;
            }
            (b')' | b']', _) => {
                depth = depth.saturating_sub(1);
                i += 1;
            }
            _ => i += 1,
        }
    }
    None
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| from + p)
}

/// The 1-based line and column of byte `offset` in `text`.
pub(super) fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = text.get(..offset).unwrap_or(text);
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).map_or(0, |s| s.chars().count()) + 1;
    (line, column)
}

/// The message and hint for a tag nested beyond [`MAX_NESTING`].
pub(super) fn message() -> (String, &'static str) {
    (
        format!("brackets nested more than {MAX_NESTING} deep inside one tag"),
        "close each ( and [ you open, and split long expressions with {% set %}",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinary_templates_pass() {
        for ok in [
            "Kính gửi {{ row.name | upper }} (lớp {{ row.grade }}) :( ((((((((((",
            "{{ f(a=g(a=h(b=[1, [2, (3)]])) ) }}",
            "{% if (a and (b or c)) %}x{% endif %}",
            "{{ \"((((((((((((((\" }} {# (((((((((((((( #}",
        ] {
            assert_eq!(too_deep(ok), None, "{ok}");
        }
    }

    #[test]
    fn a_tag_of_unclosed_calls_beyond_the_limit_is_found_where_it_goes_too_deep() {
        let deep = format!("text\n{{{{ho(el={}S%}}", "s~_amho(el=".repeat(MAX_NESTING));
        let at = too_deep(&deep).expect("too deep");
        assert_eq!(&deep[at..at + 1], "(");
        assert_eq!(position(&deep, at).0, 2);
        let closed = format!("{{{{ {}x{} }}}}", "f(a=".repeat(20), ")".repeat(20));
        assert!(
            too_deep(&closed).is_some(),
            "closed or not, 20 levels is too deep"
        );
        assert_eq!(
            too_deep(&format!("{{{{ {} }}}}", "[".repeat(MAX_NESTING))),
            None
        );
    }
}

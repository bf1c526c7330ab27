//! `${NAME}` and `${NAME:-default}` in campaign files
//! (docs/campaign-file.md#environment-variables).
//!
//! The substitution itself is serde-saphyr's property interpolation (Docker Compose rules:
//! `${NAME}`, `${NAME:-default}`, bare `$NAME`, `$$` for a literal `$`), applied to scalars
//! after parsing, so a value with quotes or newlines cannot break the YAML. This module finds the
//! references first, so that *every* missing variable is reported with its line, rather than
//! the parser stopping at the first one, and builds the property map from the environment.

use std::collections::HashMap;

/// `name` from the process environment, or else the contents of the file that `{name}_FILE`
/// names, as Docker and Kubernetes mount secrets: the way to pass a multi-line value like a
/// DKIM key. One trailing line break is dropped. `name` itself wins when both are set.
pub(crate) fn lookup(name: &str) -> Option<String> {
    lookup_in(name, &|n| std::env::var(n).ok())
}

/// [`lookup`] over another environment (tests).
pub(crate) fn lookup_in(name: &str, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    if let Some(v) = var(name) {
        return Some(v);
    }
    let path = var(&format!("{name}_FILE"))?;
    let text = std::fs::read_to_string(path).ok()?;
    let text = text.strip_suffix('\n').unwrap_or(&text);
    Some(text.strip_suffix('\r').unwrap_or(text).to_owned())
}

/// Why `{name}_FILE` gives no value although it is set (the file is missing, unreadable or
/// not UTF-8), for the error that names it; None when it is unset or fine.
pub(crate) fn unreadable_file(name: &str, var: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let file_var = format!("{name}_FILE");
    let path = var(&file_var)?;
    let err = std::fs::read_to_string(&path).err()?;
    Some(format!(
        "{file_var} names {path}, which cannot be read: {err}"
    ))
}

/// One `${…}` reference in the source text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct EnvRef {
    pub name: String,
    pub has_default: bool,
    pub line: usize,
    pub column: usize,
}

/// Finds `${NAME}` and `$NAME` references outside comments; `$$` is a literal `$`.
pub(crate) fn references(text: &str) -> Vec<EnvRef> {
    let mut refs = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = strip_comment(line);
        let mut from = 0;
        while let Some(off) = line[from..].find('$') {
            let at = from + off;
            let rest = &line[at + 1..];
            if rest.starts_with('$') {
                from = at + 2;
                continue;
            }
            from = at + 1;
            let rest = rest.strip_prefix('{').unwrap_or(rest);
            if let Some(r) = parse_ref(rest) {
                refs.push(EnvRef {
                    name: r.0,
                    has_default: r.1,
                    line: n + 1,
                    column: line[..at].chars().count() + 1,
                });
            }
        }
    }
    refs
}

fn parse_ref(rest: &str) -> Option<(String, bool)> {
    let end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let name = &rest[..end];
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        return None;
    }
    let after = &rest[end..];
    Some((
        name.to_string(),
        after.starts_with(":-") || after.starts_with('-'),
    ))
}

/// Drops a YAML comment: a `#` at the start or after white space, outside quotes.
fn strip_comment(line: &str) -> &str {
    let mut quote: Option<char> = None;
    let mut prev_space = true;
    for (i, c) in line.char_indices() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (None, '"' | '\'') if prev_space || i == 0 => quote = Some(c),
            (None, '#') if prev_space => return &line[..i],
            _ => {}
        }
        prev_space = c.is_whitespace() || c == '{' || c == '[' || c == ',' || c == ':';
    }
    line
}

/// The values to substitute: every referenced variable that is set. A missing one is bound
/// to the empty string so parsing can go on; the caller reports it from [`references`].
pub(crate) fn properties(
    refs: &[EnvRef],
    lookup: impl Fn(&str) -> Option<String>,
) -> HashMap<String, String> {
    refs.iter()
        .filter_map(|r| lookup(&r.name).map(|v| (r.name.clone(), v)))
        .chain(
            refs.iter()
                .filter(|r| !r.has_default && lookup(&r.name).is_none())
                .map(|r| (r.name.clone(), String::new())),
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_variable_comes_from_its_file_when_only_name_file_is_set() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("dkim.pem");
        std::fs::write(
            &key,
            "-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----\n",
        )
        .unwrap();
        let path = key.display().to_string();
        let missing = dir.path().join("nowhere").display().to_string();
        let env = |n: &str| match n {
            "DKIM_FILE" => Some(path.clone()),
            "BOTH" => Some("direct".to_owned()),
            "BOTH_FILE" => Some(path.clone()),
            "GONE_FILE" => Some(missing.clone()),
            _ => None,
        };
        assert_eq!(
            lookup_in("DKIM", &env).as_deref(),
            Some("-----BEGIN RSA PRIVATE KEY-----\nMIIE\n-----END RSA PRIVATE KEY-----")
        );
        assert_eq!(lookup_in("BOTH", &env).as_deref(), Some("direct"));
        assert_eq!(lookup_in("GONE", &env), None);
        assert_eq!(lookup_in("UNSET", &env), None);
        let why = unreadable_file("GONE", &env).unwrap();
        assert!(
            why.starts_with(&format!("GONE_FILE names {missing}, which cannot be read")),
            "{why}"
        );
        assert_eq!(unreadable_file("DKIM", &env), None);
        assert_eq!(unreadable_file("UNSET", &env), None);
    }

    #[test]
    fn references_are_found_with_their_column_and_default_flag() {
        let refs =
            references("a: \"${LOA_SMTP_URL}\"\nb: ${X:-1} # ${IN_COMMENT}\nc: $${LITERAL} $$5\n");
        assert_eq!(
            refs,
            vec![
                EnvRef {
                    name: "LOA_SMTP_URL".into(),
                    has_default: false,
                    line: 1,
                    column: 5
                },
                EnvRef {
                    name: "X".into(),
                    has_default: true,
                    line: 2,
                    column: 4
                },
            ]
        );
    }

    #[test]
    fn a_bare_dollar_name_is_a_reference_too() {
        let refs = references("url: \"smtp://$SMTP_HOST:25\"\nprice: \"5 $ \"\n");
        assert_eq!(refs.len(), 1);
        assert_eq!((refs[0].name.as_str(), refs[0].column), ("SMTP_HOST", 14));
    }

    #[test]
    fn a_hash_inside_quotes_is_not_a_comment() {
        let refs = references("h: \"Bearer #1 ${TOKEN}\"\n");
        assert_eq!(refs.len(), 1);
        assert_eq!(refs[0].name, "TOKEN");
    }

    #[test]
    fn missing_variables_without_default_map_to_empty_text() {
        let refs = references("a: ${SET}\nb: ${MISSING}\nc: ${OPT:-x}\n");
        let props = properties(&refs, |n| (n == "SET").then(|| "v".to_string()));
        assert_eq!(props.get("SET").map(String::as_str), Some("v"));
        assert_eq!(props.get("MISSING").map(String::as_str), Some(""));
        assert!(!props.contains_key("OPT"));
    }
}

//! Zalo ZNS parts: `templates/<name>/zns.yaml`.
//!
//! A ZNS message names a template registered and approved in the Zalo OA console and fills
//! its parameters (Zalo ZNS API, "Send ZNS": `template_id` and `template_data`). The file:
//!
//! ```yaml
//! template_id: "231245"
//! params:
//!   student_name: "{{ row.student_name }}"
//!   amount: "{{ row.contribution | vnd }}"
//! ```
//!
//! Each param value is compiled as its own Tera template named `<name>/zns.yaml[<key>]`,
//! never autoescaped. Errors point at the YAML line of the value.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_saphyr::{MessageFormatter, Spanned, UserMessageFormatter};
use tera::Template;

use super::error::TemplateError;

/// A rendered ZNS message, ready for the Zalo channel.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ZnsMessage {
    pub template_id: String,
    /// Param name → rendered value, in the file's order.
    pub params: IndexMap<String, String>,
}

/// A loaded `zns.yaml`: the template id and, per param, the Tera template name.
#[derive(Debug, Clone)]
pub(super) struct ZnsTemplate {
    pub(super) template_id: String,
    pub(super) params: IndexMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ZnsFile {
    template_id: Spanned<String>,
    #[serde(default)]
    params: IndexMap<String, Spanned<String>>,
}

/// The Tera template name of one param of the template `name`.
pub(super) fn param_tera_name(name: &str, key: &str) -> String {
    format!("{name}/zns.yaml[{key}]")
}

/// Parses `text` (the contents of `file`, the zns.yaml of template `name`) and compiles every
/// param. Returns the template and the compiled params, or every problem found.
pub(super) fn compile(
    name: &str,
    file: &std::path::Path,
    text: &str,
) -> Result<(ZnsTemplate, Vec<Template>), Vec<TemplateError>> {
    let parsed: ZnsFile = serde_saphyr::from_str(text).map_err(|e| vec![yaml_error(file, &e)])?;
    let mut errors = Vec::new();
    let template_id = parsed.template_id.value.trim().to_string();
    if template_id.is_empty() {
        errors.push(
            located(file, "`template_id` is empty", &parsed.template_id)
                .hint("copy the id of the approved template from the Zalo OA console"),
        );
    }
    let mut params = IndexMap::new();
    let mut compiled = Vec::new();
    for (key, value) in &parsed.params {
        let tera_name = param_tera_name(name, key);
        if super::nesting::too_deep(&value.value).is_some() {
            let (message, hint) = super::nesting::message();
            errors.push(located(file, &format!("param `{key}`: {message}"), value).hint(hint));
            params.insert(key.clone(), tera_name);
            continue;
        }
        match Template::new(&tera_name, None, &value.value) {
            Ok(template) => compiled.push(template),
            Err(e) => errors.push(param_error(file, key, value, &e)),
        }
        params.insert(key.clone(), tera_name);
    }
    if errors.is_empty() {
        Ok((
            ZnsTemplate {
                template_id,
                params,
            },
            compiled,
        ))
    } else {
        Err(errors)
    }
}

/// The error of a param that Tera cannot parse, at the param's line in zns.yaml, with the
/// place inside the value where Tera stopped.
fn param_error(
    file: &std::path::Path,
    key: &str,
    value: &Spanned<String>,
    e: &tera::Error,
) -> TemplateError {
    let parse = TemplateError::from_parse(file, e);
    let inner = match (parse.line, parse.column) {
        (Some(l), Some(c)) => format!(" (at {l}:{c} of the value)"),
        _ => String::new(),
    };
    let message = format!("param `{key}`{inner}: {}", parse.message);
    let mut error = located(file, &message, value);
    error.hint = parse.hint;
    error
}

fn located<T>(file: &std::path::Path, message: &str, at: &Spanned<T>) -> TemplateError {
    let error = TemplateError::new(file, message);
    let (line, column) = (at.referenced.line(), at.referenced.column());
    match (usize::try_from(line), usize::try_from(column)) {
        (Ok(line), Ok(column)) if line > 0 => error.at(line, column),
        _ => error,
    }
}

fn yaml_error(file: &std::path::Path, err: &serde_saphyr::Error) -> TemplateError {
    // The message without serde-saphyr's location suffix and source snippet: the position
    // goes into the error's own fields.
    let message = UserMessageFormatter.format_message(err);
    let error = TemplateError::new(file, format!("invalid zns.yaml: {message}")).hint(
        "zns.yaml holds `template_id: \"<id>\"` and `params:` mapping each ZNS parameter \
         to a Tera string",
    );
    let position = err.location().and_then(|l| {
        let line = usize::try_from(l.line()).ok()?;
        let column = usize::try_from(l.column()).ok()?;
        (line > 0).then_some((line, column))
    });
    match position {
        Some((line, column)) => error.at(line, column),
        None => error,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn errors(text: &str) -> Vec<TemplateError> {
        compile("parent_notice", Path::new("zns.yaml"), text)
            .err()
            .unwrap_or_default()
    }

    #[test]
    fn params_compile_in_file_order() {
        let text = "template_id: \"231245\"\nparams:\n  b: \"{{ row.b }}\"\n  a: \"x\"\n";
        let compiled = compile("parent_notice", Path::new("zns.yaml"), text);
        let (zns, templates) = compiled.unwrap_or_else(|e| panic!("{e:?}"));
        assert_eq!(zns.template_id, "231245");
        let keys: Vec<&str> = zns.params.keys().map(String::as_str).collect();
        assert_eq!(keys, ["b", "a"]);
        assert_eq!(zns.params["b"], "parent_notice/zns.yaml[b]");
        assert_eq!(templates.len(), 2);
    }

    #[test]
    fn an_unknown_key_is_reported_with_its_line() {
        let found = errors("template_id: \"1\"\nparam:\n  a: \"x\"\n");
        assert_eq!(found.len(), 1);
        assert!(found[0].message.contains("param"), "{}", found[0].message);
        assert_eq!(found[0].line, Some(2));
    }

    #[test]
    fn every_broken_param_is_reported_at_its_yaml_line() {
        let text =
            "template_id: \"1\"\nparams:\n  a: \"{{ row.a \"\n  ok: \"x\"\n  b: \"{% if %}\"\n";
        let found = errors(text);
        assert_eq!(found.len(), 2, "{found:?}");
        assert!(
            found[0].message.starts_with("param `a`"),
            "{}",
            found[0].message
        );
        assert_eq!(found[0].line, Some(3));
        assert_eq!(found[1].line, Some(5));
    }

    #[test]
    fn an_empty_template_id_is_an_error() {
        let found = errors("template_id: \"  \"\nparams: {}\n");
        assert!(found[0].message.contains("`template_id` is empty"));
    }
}

//! Compiles a step's `where` into a Tera template `{% if <where> %}true{% else %}false{% endif %}`.
//!
//! A `where` is Tera expression syntax — what may stand inside `{% if … %}` — so staff learn
//! one language. Wrapping text in a template invites injection (`x %}{{ get_env(…) }}{% if y`),
//! so the text may not contain any Tera delimiter, and the parsed template must be exactly one
//! `if` whose branches are the literal `true` and `false`.

use tera::Template;
use tera::ast::{If, Node};

use super::error::TemplateError;
use super::nesting::position;

/// The longest `where` accepted; a filter on a data row is one line.
pub(crate) const MAX_EXPRESSION_BYTES: usize = 4096;

const PREFIX: &str = "{% if ";
const SUFFIX: &str = " %}true{% else %}false{% endif %}";
const DELIMITERS: [&str; 6] = ["{{", "}}", "{%", "%}", "{#", "#}"];

/// The Tera template name of the expression `id`.
pub(super) fn tera_name(id: &str) -> String {
    format!("where:{id}")
}

/// Parses and checks `expr`; errors carry positions within `expr` and an empty file.
pub(super) fn compile(id: &str, expr: &str) -> Result<Template, TemplateError> {
    let invalid = |message: String| TemplateError::new("", message);
    if expr.trim().is_empty() {
        return Err(invalid(format!("`where` of `{id}` is empty"))
            .hint("write a condition such as `not row.insured`, or remove `where`"));
    }
    if expr.len() > MAX_EXPRESSION_BYTES {
        return Err(invalid(format!(
            "`where` of `{id}` is {} bytes; at most {MAX_EXPRESSION_BYTES} are allowed",
            expr.len()
        )));
    }
    if let Some((offset, delimiter)) = first_delimiter(expr) {
        let (line, column) = position(expr, offset);
        return Err(invalid(format!(
            "`where` of `{id}` contains the Tera delimiter `{delimiter}`"
        ))
        .at(line, column)
        .hint("a `where` is a bare condition such as `row.grade == 1 and not row.insured`, without {% %} or {{ }}"));
    }
    if let Some(offset) = super::nesting::too_deep(&format!("{{{{ {expr} }}}}")) {
        let (line, column) = position(expr, offset.saturating_sub(3));
        let (message, hint) = super::nesting::message();
        return Err(invalid(format!("`where` of `{id}`: {message}"))
            .at(line, column)
            .hint(hint));
    }
    let source = format!("{PREFIX}{expr}{SUFFIX}");
    let template = Template::new(&tera_name(id), None, &source).map_err(|e| {
        let mut error = TemplateError::from_parse("", &e);
        error.message = format!("`where` of `{id}`: {}", error.message);
        shift_to_expression(error)
    })?;
    if !is_single_condition(&template.ast) {
        return Err(
            invalid(format!("`where` of `{id}` is not a single condition"))
                .hint("a `where` is one expression, as it would stand inside {% if … %}"),
        );
    }
    Ok(template)
}

fn first_delimiter(expr: &str) -> Option<(usize, &'static str)> {
    DELIMITERS
        .iter()
        .filter_map(|d| expr.find(d).map(|offset| (offset, *d)))
        .min()
}

/// Moves a parse position from the wrapped template onto the user's expression.
fn shift_to_expression(mut error: TemplateError) -> TemplateError {
    if error.line == Some(1) {
        error.column = error
            .column
            .map(|c| c.saturating_sub(PREFIX.chars().count()).max(1));
    }
    error
}

/// True when `ast` is exactly `{% if c %}true{% else %}false{% endif %}`.
fn is_single_condition(ast: &[Node]) -> bool {
    let [
        Node::If(
            If {
                conditions,
                otherwise,
            },
            _,
        ),
    ] = ast
    else {
        return false;
    };
    let [(_, _, then_body)] = conditions.as_slice() else {
        return false;
    };
    let Some((_, else_body)) = otherwise else {
        return false;
    };
    is_text(then_body, "true") && is_text(else_body, "false")
}

fn is_text(body: &[Node], expected: &str) -> bool {
    matches!(body, [Node::Text(text)] if text == expected)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error(expr: &str) -> TemplateError {
        match compile("coverage-weekly", expr) {
            Err(e) => e,
            Ok(_) => panic!("accepted {expr:?}"),
        }
    }

    #[test]
    fn a_plain_condition_compiles() {
        for expr in [
            "not row.insured",
            "row.students_insured < row.students_total",
            "row.grade == 1 and not row.insured",
            "row.district in [\"Buôn Đôn\", \"Ea Súp\"]",
            "row.name is starting_with(\"THPT\")",
        ] {
            assert!(compile("s", expr).is_ok(), "{expr}");
        }
    }

    #[test]
    fn a_where_that_closes_the_if_tag_is_rejected() {
        let e = error("true %}{{ get_env(name=\"SMTP_PASSWORD\") }}{% if true");
        assert!(e.message.contains("delimiter `%}`"), "{}", e.message);
        assert_eq!((e.line, e.column), (Some(1), Some(6)));
    }

    #[test]
    fn a_where_with_any_tera_delimiter_is_rejected() {
        for expr in [
            "{{ row.a }}",
            "row.a }}",
            "{% set x = 1 %}",
            "row.a {# c #}",
        ] {
            assert!(error(expr).message.contains("delimiter"), "{expr}");
        }
    }

    #[test]
    fn an_empty_or_oversized_where_is_rejected() {
        assert!(error("  ").message.contains("empty"));
        let long = format!("row.a == \"{}\"", "x".repeat(MAX_EXPRESSION_BYTES));
        assert!(error(&long).message.contains("at most 4096"));
    }

    #[test]
    fn a_syntax_error_points_into_the_expression() {
        let e = error("row.a <");
        assert!(
            e.message
                .starts_with("`where` of `coverage-weekly`: syntax error"),
            "{}",
            e.message
        );
        assert_eq!(e.line, Some(1));
        assert!(
            e.column.is_some_and(|c| c <= "row.a <".len() + 2),
            "{:?}",
            e.column
        );
        assert!(e.file.as_os_str().is_empty());
    }

    #[test]
    fn an_array_literal_is_not_a_condition() {
        assert!(error("[1, 2]").message.contains("syntax error"));
    }
}

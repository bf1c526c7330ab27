//! The two error types of `render`: [`TemplateError`] for problems found while loading
//! (many at once, each with a place) and [`RenderError`] for one failed render.
//!
//! Tera reports a failure as a chain of errors ("Failed to render 'x'" → "Variable `y` not
//! found…"); we flatten the chain into one message and pull out the variable name and the
//! source position where Tera (or pest, its parser) gives them.

use std::error::Error as _;
use std::fmt;
use std::path::PathBuf;

/// A problem in a template file or `where` expression, found before anything is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TemplateError {
    /// The file; empty for a `where` expression (the caller knows where it came from).
    pub file: PathBuf,
    /// 1-based line, when known. For a `where` expression, within the expression.
    pub line: Option<usize>,
    /// 1-based column, when known. For a `where` expression, within the expression.
    pub column: Option<usize>,
    pub message: String,
    pub hint: Option<String>,
}

impl TemplateError {
    pub(super) fn new(file: impl Into<PathBuf>, message: impl Into<String>) -> TemplateError {
        TemplateError {
            file: file.into(),
            line: None,
            column: None,
            message: message.into(),
            hint: None,
        }
    }

    pub(super) fn at(mut self, line: usize, column: usize) -> TemplateError {
        self.line = Some(line);
        self.column = Some(column);
        self
    }

    pub(super) fn hint(mut self, hint: impl Into<String>) -> TemplateError {
        self.hint = Some(hint.into());
        self
    }

    /// A Tera parse error, with pest's position and its "expected …" line as the message.
    pub(super) fn from_parse(file: impl Into<PathBuf>, err: &tera::Error) -> TemplateError {
        let full = chain_message(err);
        let message =
            pest_expectation(&full).map_or(full.clone(), |e| format!("syntax error: {e}"));
        let error = TemplateError::new(file, message).hint(
            "Tera syntax: {{ row.name }} to print, {% if … %}…{% endif %}, \
             {% for x in list %}…{% endfor %}; see https://keats.github.io/tera/docs/#templates",
        );
        match pest_position(&full) {
            Some((line, column)) => error.at(line, column),
            None => error,
        }
    }
}

impl fmt::Display for TemplateError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
            if let Some(column) = self.column {
                write!(f, ":{column}")?;
            }
        }
        write!(f, ": {}", self.message)?;
        if let Some(hint) = &self.hint {
            write!(f, " (hint: {hint})")?;
        }
        Ok(())
    }
}

impl std::error::Error for TemplateError {}

/// Why rendering a template, a ZNS message or a `where` expression failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    #[error("no template named `{0}` is loaded")]
    UnknownTemplate(String),
    #[error("no `where` expression with id `{0}` was added")]
    UnknownExpression(String),
    #[error("template `{0}` has no zns.yaml")]
    NoZns(String),
    #[error("template `{template}` uses `{variable}`, which this recipient's data does not define")]
    UndefinedVariable { template: String, variable: String },
    #[error("template `{template}` produced more than {limit} bytes; output is capped")]
    OutputTooLarge { template: String, limit: usize },
    #[error("template `{template}`: {message}")]
    Failed { template: String, message: String },
    /// A bound of [`super::limits`] was crossed: too deep, too many loop turns, too long.
    #[error(
        "template `{template}` stopped: {limit}; the message is not sent (templates are \
         limited so that one cannot stall or crash the daemon)"
    )]
    LimitExceeded { template: String, limit: String },
}

impl RenderError {
    /// Classifies a Tera render error for `template`.
    pub(super) fn from_tera(template: &str, err: &tera::Error) -> RenderError {
        match undefined_variable(err) {
            Some(variable) => RenderError::UndefinedVariable {
                template: template.to_string(),
                variable,
            },
            None => RenderError::Failed {
                template: template.to_string(),
                message: chain_message(err),
            },
        }
    }
}

/// Joins the messages of an error and its sources with ": ".
pub(super) fn chain_message(err: &tera::Error) -> String {
    let mut parts = vec![err.to_string()];
    let mut source = err.source();
    while let Some(inner) = source {
        parts.push(inner.to_string());
        source = inner.source();
    }
    parts.join(": ")
}

/// The variable named by Tera's "Variable `x` not found in context" error, if that is the
/// cause. Tera has no error kind for it, so its message is matched; the tests in `mod.rs`
/// pin the format of the Tera version we build with.
fn undefined_variable(err: &tera::Error) -> Option<String> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(err);
    while let Some(e) = current {
        let text = e.to_string();
        if let Some(rest) = text.strip_prefix("Variable `")
            && let Some((name, tail)) = rest.split_once('`')
            && tail.starts_with(" not found in context")
        {
            return Some(name.to_string());
        }
        current = e.source();
    }
    None
}

/// The `line:column` of pest's ` --> 3:14` marker.
pub(super) fn pest_position(message: &str) -> Option<(usize, usize)> {
    let after = message.split_once("--> ")?.1;
    let (line, rest) = after.split_once(':')?;
    let column: String = rest.chars().take_while(char::is_ascii_digit).collect();
    Some((line.trim().parse().ok()?, column.parse().ok()?))
}

/// pest's `  = expected …` line.
fn pest_expectation(message: &str) -> Option<&str> {
    message
        .lines()
        .find_map(|line| line.trim_start().strip_prefix("= "))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pest_position_is_read_from_the_arrow_line() {
        let message = " --> 3:14\n  |\n3 | {{ x \n  |   ^---\n  |\n  = expected `}}`";
        assert_eq!(pest_position(message), Some((3, 14)));
        assert_eq!(pest_expectation(message), Some("expected `}}`"));
        assert_eq!(pest_position("no position"), None);
    }

    #[test]
    fn a_template_error_displays_file_line_column_and_hint() {
        let error = TemplateError::new("templates/a/text.tera", "boom")
            .at(2, 5)
            .hint("fix it");
        assert_eq!(
            error.to_string(),
            "templates/a/text.tera:2:5: boom (hint: fix it)"
        );
    }

    #[test]
    fn an_undefined_variable_is_found_in_the_error_chain() {
        let inner = tera::Error::msg("Variable `row.nme` not found in context while rendering 'x'");
        let outer = tera::Error::chain("Failed to render 'x'", inner);
        assert_eq!(undefined_variable(&outer).as_deref(), Some("row.nme"));
        assert_eq!(
            RenderError::from_tera("x", &outer).to_string(),
            "template `x` uses `row.nme`, which this recipient's data does not define"
        );
    }
}

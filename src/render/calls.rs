//! Filters, functions, tests and macros a template calls that do not exist.
//!
//! Tera parses `{{ x | vn_dat }}` and `{{ nofn() }}` without complaint and fails only when
//! the template is rendered, that is when a message is due. Loa registers its own filters
//! and builds Tera without its `builtins` feature (no `date`, `now`, `slugify`…), so a name
//! that works in Tera's documentation may be missing here. This walk finds every call by
//! name and checks it against what the instance has, so `loa validate` reports it.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use tera::Tera;
use tera::ast::{Expr, ExprVal, FunctionCall, Node};

/// What a template calls by name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Filter,
    Function,
    Test,
    Macro,
}

impl Kind {
    fn as_str(self) -> &'static str {
        match self {
            Kind::Filter => "filter",
            Kind::Function => "function",
            Kind::Test => "test",
            Kind::Macro => "macro",
        }
    }
}

/// A filter, function, test or macro a template calls that loa's Tera instance lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnknownCall {
    /// The template file; empty for a `where` expression.
    pub file: PathBuf,
    /// 1-based line of its first use, when the text shows it.
    pub line: Option<usize>,
    /// The name as called: `vn_dat`, or `namespace::name` for a macro.
    pub name: String,
    /// `unknown filter`, `unknown function`… or why a known one cannot be used.
    pub message: String,
    pub hint: String,
}

/// The unknown calls of the one template `name`, whose text is `source`, one per name.
pub(super) fn unknown_in(tera: &Tera, name: &str, file: &Path, source: &str) -> Vec<UnknownCall> {
    let Some(template) = tera.templates.get(name) else {
        return Vec::new();
    };
    let mut found = BTreeSet::new();
    Walk { found: &mut found }.body(&template.ast);
    let mut out = Vec::new();
    for (kind, called) in found {
        let (message, hint) = if kind == Kind::Function && called == "get_env" {
            (
                "function `get_env` is disabled: templates cannot read the environment, \
                 where loa keeps secrets"
                    .to_string(),
                "put the value in the campaign data or in `messages`".to_string(),
            )
        } else if known(tera, name, kind, &called) {
            continue;
        } else {
            (
                format!("unknown {}", kind.as_str()),
                hint(tera, kind, &called),
            )
        };
        out.push(UnknownCall {
            file: file.to_path_buf(),
            line: line_of(source, kind, &called),
            name: called,
            message,
            hint,
        });
    }
    out
}

fn known(tera: &Tera, template: &str, kind: Kind, called: &str) -> bool {
    match kind {
        Kind::Filter => tera.filters.contains_key(called),
        Kind::Function => tera.functions.contains_key(called),
        Kind::Test => tera.testers.contains_key(called),
        Kind::Macro => {
            let Some((namespace, name)) = called.split_once("::") else {
                return false;
            };
            let Some(t) = tera.templates.get(template) else {
                return false;
            };
            let file = if namespace == "self" {
                Some(template)
            } else {
                t.imported_macro_files
                    .iter()
                    .find(|(_, ns)| ns == namespace)
                    .map(|(file, _)| file.as_str())
            };
            file.and_then(|f| tera.templates.get(f))
                .is_some_and(|t| t.macros.contains_key(name))
        }
    }
}

fn hint(tera: &Tera, kind: Kind, called: &str) -> String {
    let mut names: Vec<&str> = match kind {
        Kind::Filter => tera.filters.keys().map(String::as_str).collect(),
        Kind::Function => tera
            .functions
            .keys()
            .map(String::as_str)
            // get_env is disabled; the `__loa_` functions are the render limits' own calls.
            .filter(|f| *f != "get_env" && !f.starts_with("__loa_"))
            .collect(),
        Kind::Test => tera.testers.keys().map(String::as_str).collect(),
        Kind::Macro => {
            return "define the macro with {% macro name() %}…{% endmacro %} and import its \
                    file with {% import \"<name>/<file>\" as m %}"
                .into();
        }
    };
    names.sort_unstable();
    let suggestion = crate::suggest::suggest(called, names.iter().copied());
    if suggestion.starts_with("did you mean") {
        return suggestion;
    }
    format!(
        "loa's templates have these {}s: {}",
        kind.as_str(),
        names.join(", ")
    )
}

/// The 1-based line where `called` is first used as a call of `kind`, by its text.
fn line_of(source: &str, kind: Kind, called: &str) -> Option<usize> {
    let name = called.rsplit("::").next().unwrap_or(called);
    source
        .lines()
        .position(|line| {
            line.match_indices(name).any(|(at, _)| {
                let before = line[..at].trim_end();
                let after = line[at + name.len()..].trim_start();
                let word_ends =
                    !line[at + name.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_');
                let word_starts = !line[..at].ends_with(|c: char| c.is_alphanumeric() || c == '_');
                word_ends
                    && match kind {
                        Kind::Filter => before.ends_with('|') || before.ends_with("filter"),
                        Kind::Test => before.ends_with("is") || before.ends_with("not"),
                        Kind::Function => word_starts && after.starts_with('('),
                        Kind::Macro => after.starts_with('('),
                    }
            })
        })
        .map(|i| i + 1)
}

struct Walk<'a> {
    /// A macro is recorded as `namespace::name`, the rest by their plain names.
    found: &'a mut BTreeSet<(Kind, String)>,
}

impl Walk<'_> {
    fn body(&mut self, nodes: &[Node]) {
        for node in nodes {
            self.node(node);
        }
    }

    fn node(&mut self, node: &Node) {
        match node {
            Node::VariableBlock(_, expr) => self.expr(expr),
            Node::Set(_, set) => self.expr(&set.value),
            Node::FilterSection(_, section, _) => {
                self.call(Kind::Filter, &section.filter);
                self.body(&section.body);
            }
            Node::Forloop(_, forloop, _) => {
                self.expr(&forloop.container);
                self.body(&forloop.body);
                if let Some(empty) = &forloop.empty_body {
                    self.body(empty);
                }
            }
            Node::If(branches, _) => {
                for (_, condition, body) in &branches.conditions {
                    self.expr(condition);
                    self.body(body);
                }
                if let Some((_, body)) = &branches.otherwise {
                    self.body(body);
                }
            }
            Node::MacroDefinition(_, def, _) => {
                for default in def.args.values().flatten() {
                    self.expr(default);
                }
                self.body(&def.body);
            }
            Node::Block(_, block, _) => self.body(&block.body),
            _ => {}
        }
    }

    fn call(&mut self, kind: Kind, call: &FunctionCall) {
        self.found.insert((kind, call.name.clone()));
        for arg in call.args.values() {
            self.expr(arg);
        }
    }

    fn expr(&mut self, expr: &Expr) {
        self.value(&expr.val);
        for filter in &expr.filters {
            self.call(Kind::Filter, filter);
        }
    }

    fn value(&mut self, val: &ExprVal) {
        match val {
            ExprVal::Math(m) => {
                self.expr(&m.lhs);
                self.expr(&m.rhs);
            }
            ExprVal::Logic(l) => {
                self.expr(&l.lhs);
                self.expr(&l.rhs);
            }
            ExprVal::In(i) => {
                self.expr(&i.lhs);
                self.expr(&i.rhs);
            }
            ExprVal::Test(test) => {
                self.found.insert((Kind::Test, test.name.clone()));
                for arg in &test.args {
                    self.expr(arg);
                }
            }
            ExprVal::MacroCall(call) => {
                self.found
                    .insert((Kind::Macro, format!("{}::{}", call.namespace, call.name)));
                for arg in call.args.values() {
                    self.expr(arg);
                }
            }
            ExprVal::FunctionCall(call) => self.call(Kind::Function, call),
            ExprVal::Array(items) => {
                for item in items {
                    self.expr(item);
                }
            }
            ExprVal::StringConcat(concat) => {
                for value in &concat.values {
                    self.value(value);
                }
            }
            ExprVal::Ident(_)
            | ExprVal::String(_)
            | ExprVal::Int(_)
            | ExprVal::Float(_)
            | ExprVal::Bool(_) => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::Renderer;

    /// (file name, line, name, message) of every unknown call in a workspace of `files`.
    fn unknown(files: &[(&str, &str)]) -> Vec<(String, Option<usize>, String, String)> {
        let dir = tempfile::tempdir().expect("tempdir");
        for (file, text) in files {
            let path = dir.path().join(file);
            std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
            std::fs::write(&path, text).expect("write");
        }
        let renderer = Renderer::load(dir.path()).expect("load");
        renderer
            .unknown_calls()
            .into_iter()
            .map(|c| {
                let file = c.file.strip_prefix(dir.path()).expect("inside").display();
                (file.to_string(), c.line, c.name, c.message)
            })
            .collect()
    }

    #[test]
    fn filters_functions_tests_and_macros_that_exist_pass() {
        let found = unknown(&[
            (
                "t/macros.tera",
                "{% macro greet(n) %}Chào {{ n }}{% endmacro %}",
            ),
            (
                "t/text.tera",
                "{% import \"t/macros.tera\" as m %}{{ m::greet(n=row.name | upper) }}\n\
                 {% for i in range(end=2) %}{{ i | vnd }}{% endfor %}\n\
                 {% if row.x is defined %}{{ row.x | vn_date }}{% endif %}",
            ),
        ]);
        assert_eq!(found, vec![]);
    }

    #[test]
    fn each_unknown_name_is_reported_once_at_the_line_of_its_first_use() {
        let found = unknown(&[
            ("t/macros.tera", "{% macro greet(n) %}{{ n }}{% endmacro %}"),
            (
                "t/text.tera",
                "{% import \"t/macros.tera\" as m %}\n\
                 Xin chào {{ row.name | titel }}\n\
                 {{ row.day | vn_dat }} {{ row.day | vn_dat }}\n\
                 {% if row.x is definned %}{{ m::greet_all(n=1) }}{% endif %}\n\
                 {{ now() }} {{ get_env(name=\"LOA_ADMIN_TOKEN\") }}",
            ),
        ]);
        let at = |name: &str| {
            found
                .iter()
                .find(|f| f.2 == name)
                .unwrap_or_else(|| panic!("{name} not reported: {found:?}"))
        };
        assert_eq!(found.len(), 6, "{found:?}");
        assert_eq!(at("titel").1, Some(2));
        assert_eq!(at("titel").3, "unknown filter");
        assert_eq!(at("vn_dat").1, Some(3));
        assert_eq!(at("definned").3, "unknown test");
        assert_eq!(at("definned").1, Some(4));
        assert_eq!(at("m::greet_all").3, "unknown macro");
        assert_eq!(at("m::greet_all").1, Some(4));
        assert_eq!(at("now").3, "unknown function");
        assert_eq!(at("now").1, Some(5));
        assert!(at("get_env").3.contains("disabled"), "{found:?}");
        assert!(found.iter().all(|f| f.0 == "t/text.tera"), "{found:?}");
    }
}

//! Recursion between templates, found when they load: a template that includes itself, or
//! a macro that calls itself, directly or through others.
//!
//! Tera renders such a template until the thread's stack overflows, which aborts the
//! whole process — and a daemon restarted on the same campaign aborts again. Message
//! templates need no recursion, so any cycle is refused, even one a condition would end:
//! the graph below has an edge for every `include` and every macro call wherever it is
//! written. Its nodes are templates (their top-level body, blocks included) and macros
//! (their body); `{% extends %}` cycles are Tera's own error already. [`super::limits`]
//! still bounds the depth at render time, for whatever this misses.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::path::{Path, PathBuf};

use tera::ast::{Expr, ExprVal, FunctionCall, MacroCall, Node};
use tera::{Template, Tera};

use super::error::TemplateError;

/// A unit of rendering: a template's body, or one macro of a template.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Unit {
    Template(String),
    Macro { file: String, name: String },
}

impl Unit {
    fn file(&self) -> &str {
        match self {
            Unit::Template(file) | Unit::Macro { file, .. } => file,
        }
    }
}

impl fmt::Display for Unit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unit::Template(name) => write!(f, "{name}"),
            Unit::Macro { file, name } => write!(f, "macro {name} ({file})"),
        }
    }
}

/// What a unit refers to, and the text that refers to it (to find its line).
#[derive(Clone, Debug)]
struct Edge {
    to: Unit,
    needle: String,
}

/// Every cycle among the templates of `tera`, each reported once at the reference that
/// closes it, in the file `origins` gives for its template, with the line when found.
pub(super) fn check(tera: &Tera, origins: &[(String, PathBuf)]) -> Vec<TemplateError> {
    let graph = graph(tera);
    let files: HashMap<&str, &Path> = origins
        .iter()
        .map(|(name, path)| (name.as_str(), path.as_path()))
        .collect();
    let mut errors = Vec::new();
    let mut done = BTreeSet::new();
    for start in graph.keys() {
        let mut path = Vec::new();
        visit(&graph, start, &mut path, &mut done, &mut |cycle, edge| {
            errors.push(located(cycle, edge, &files));
        });
    }
    errors
}

/// Depth-first search; `found` gets each cycle (from the unit it returns to) and the edge
/// that closes it.
fn visit<'g>(
    graph: &'g BTreeMap<Unit, Vec<Edge>>,
    unit: &'g Unit,
    path: &mut Vec<&'g Unit>,
    done: &mut BTreeSet<&'g Unit>,
    found: &mut impl FnMut(&[&Unit], &Edge),
) {
    if done.contains(unit) {
        return;
    }
    path.push(unit);
    for edge in graph.get(unit).into_iter().flatten() {
        if let Some(at) = path.iter().position(|u| **u == edge.to) {
            found(&path[at..], edge);
        } else if let Some((to, _)) = graph.get_key_value(&edge.to) {
            visit(graph, to, path, done, found);
        }
    }
    path.pop();
    done.insert(unit);
}

fn located(cycle: &[&Unit], edge: &Edge, files: &HashMap<&str, &Path>) -> TemplateError {
    let closing = cycle.last().map_or("", |u| u.file());
    let file = files.get(closing).copied().unwrap_or(Path::new(closing));
    let chain: Vec<String> = cycle
        .iter()
        .map(ToString::to_string)
        .chain(std::iter::once(edge.to.to_string()))
        .collect();
    let message = if cycle.len() == 1 {
        format!("{} refers to itself: {}", cycle[0], chain.join(" → "))
    } else {
        format!(
            "templates refer to each other in a loop: {}",
            chain.join(" → ")
        )
    };
    let error = TemplateError::new(file, message).hint(
        "a template may not include itself or call a macro that leads back to it, directly \
         or through others (rendering would never end); repeat text with {% for … in … %} \
         over a list instead",
    );
    match line_of(file, &edge.needle) {
        Some(line) => TemplateError {
            line: Some(line),
            ..error
        },
        None => error,
    }
}

/// The first line of `file` that holds `needle` inside a tag (`{% … %}` or `{{ … }}`).
fn line_of(file: &Path, needle: &str) -> Option<usize> {
    let text = std::fs::read_to_string(file).ok()?;
    text.lines()
        .position(|line| line.contains(needle) && (line.contains("{%") || line.contains("{{")))
        .map(|i| i + 1)
}

/// Units and what each refers to, sorted for a stable report.
fn graph(tera: &Tera) -> BTreeMap<Unit, Vec<Edge>> {
    let mut graph = BTreeMap::new();
    for (name, template) in &tera.templates {
        let mut edges = Vec::new();
        refs_in(&template.ast, tera, template, &mut edges);
        graph.insert(Unit::Template(name.clone()), edges);
        for (macro_name, def) in &template.macros {
            let mut edges = Vec::new();
            refs_in(&def.body, tera, template, &mut edges);
            let unit = Unit::Macro {
                file: name.clone(),
                name: macro_name.clone(),
            };
            graph.insert(unit, edges);
        }
    }
    graph
}

/// The includes and macro calls of `nodes`, written in `template`. Macro definitions are
/// units of their own and are not entered.
fn refs_in(nodes: &[Node], tera: &Tera, template: &Template, edges: &mut Vec<Edge>) {
    for node in nodes {
        match node {
            Node::VariableBlock(_, expr) => expr_refs(expr, template, edges),
            Node::Set(_, set) => expr_refs(&set.value, template, edges),
            Node::FilterSection(_, section, _) => {
                call_refs(&section.filter, template, edges);
                refs_in(&section.body, tera, template, edges);
            }
            Node::Forloop(_, forloop, _) => {
                expr_refs(&forloop.container, template, edges);
                refs_in(&forloop.body, tera, template, edges);
                if let Some(empty) = &forloop.empty_body {
                    refs_in(empty, tera, template, edges);
                }
            }
            Node::If(branches, _) => {
                for (_, condition, body) in &branches.conditions {
                    expr_refs(condition, template, edges);
                    refs_in(body, tera, template, edges);
                }
                if let Some((_, body)) = &branches.otherwise {
                    refs_in(body, tera, template, edges);
                }
            }
            Node::Block(_, block, _) => refs_in(&block.body, tera, template, edges),
            Node::Include(_, names, _) => {
                // Tera renders the first of the names that is loaded.
                if let Some(name) = names.iter().find(|n| tera.templates.contains_key(*n)) {
                    edges.push(Edge {
                        to: Unit::Template(name.clone()),
                        needle: format!("\"{name}\""),
                    });
                }
            }
            _ => {}
        }
    }
}

fn expr_refs(expr: &Expr, template: &Template, edges: &mut Vec<Edge>) {
    value_refs(&expr.val, template, edges);
    for filter in &expr.filters {
        call_refs(filter, template, edges);
    }
}

fn call_refs(call: &FunctionCall, template: &Template, edges: &mut Vec<Edge>) {
    for arg in call.args.values() {
        expr_refs(arg, template, edges);
    }
}

/// A macro call's edge to the macro it calls (when the file is known), and its arguments.
fn macro_refs(call: &MacroCall, template: &Template, edges: &mut Vec<Edge>) {
    // `self::m` is the template's own macro; another namespace is an import.
    let file = if call.namespace == "self" {
        Some(template.name.clone())
    } else {
        template
            .imported_macro_files
            .iter()
            .find(|(_, ns)| *ns == call.namespace)
            .map(|(file, _)| file.clone())
    };
    if let Some(file) = file {
        edges.push(Edge {
            to: Unit::Macro {
                file,
                name: call.name.clone(),
            },
            needle: format!("{}::{}", call.namespace, call.name),
        });
    }
    for arg in call.args.values() {
        expr_refs(arg, template, edges);
    }
}

fn value_refs(val: &ExprVal, template: &Template, edges: &mut Vec<Edge>) {
    match val {
        ExprVal::MacroCall(call) => macro_refs(call, template, edges),
        ExprVal::Math(m) => {
            expr_refs(&m.lhs, template, edges);
            expr_refs(&m.rhs, template, edges);
        }
        ExprVal::Logic(l) => {
            expr_refs(&l.lhs, template, edges);
            expr_refs(&l.rhs, template, edges);
        }
        ExprVal::In(i) => {
            expr_refs(&i.lhs, template, edges);
            expr_refs(&i.rhs, template, edges);
        }
        ExprVal::Test(test) => {
            for arg in &test.args {
                expr_refs(arg, template, edges);
            }
        }
        ExprVal::FunctionCall(call) => call_refs(call, template, edges),
        ExprVal::Array(items) => {
            for item in items {
                expr_refs(item, template, edges);
            }
        }
        ExprVal::StringConcat(concat) => {
            for value in &concat.values {
                value_refs(value, template, edges);
            }
        }
        ExprVal::Ident(_)
        | ExprVal::String(_)
        | ExprVal::Int(_)
        | ExprVal::Float(_)
        | ExprVal::Bool(_) => {}
    }
}

//! The template lint: which context variables a template or `where` expression reads.
//!
//! Tera fails on an undefined variable in `{{ }}` but treats one inside `{% if %}` as false,
//! so a misspelled `row.insurd` in a condition silently changes who gets a message. The
//! campaign validator compares what this module finds with the CSV headers and the known
//! context names.
//!
//! The walk follows Tera's own scoping: names bound by `for` (key and value) exist in the
//! loop body, `set` binds for the rest of the current scope (a `for` body or a macro is a
//! scope; `if` is not), `set_global` for the rest of the template, macro parameters in
//! the macro body; `loop` and `__tera_context` are Tera's. Included templates are walked in
//! the including scope; a template that `extends` another is walked together with its
//! parents.

use indexmap::IndexMap;
use tera::Tera;
use tera::ast::{Expr, ExprVal, FunctionCall, Node};

/// A context variable read by a template or expression.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VarRef {
    /// The dotted path, e.g. `["row", "students_insured"]`. A dynamic index (`row[key]`)
    /// ends the path; the index variable is reported on its own.
    pub path: Vec<String>,
    /// True when every use is inside an `{% if %}`/`{% elif %}` condition (or a `where`),
    /// where Tera treats an undefined name as false instead of failing.
    pub in_condition: bool,
}

/// Names Tera defines itself.
const TERA_NAMES: [&str; 2] = ["loop", "__tera_context"];

/// The free variables of the template `name` in `tera`, in order of first use.
pub(super) fn variables(tera: &Tera, name: &str) -> Vec<VarRef> {
    let Some(template) = tera.templates.get(name) else {
        return Vec::new();
    };
    let mut walker = Walker {
        tera,
        found: IndexMap::new(),
        globals: Vec::new(),
        including: vec![name.to_string()],
    };
    let mut scope = Vec::new();
    for parent in template.parents.iter().rev() {
        if let Some(parent) = tera.templates.get(parent) {
            walker.body(&parent.ast, &mut scope);
        }
    }
    walker.body(&template.ast, &mut scope);
    walker
        .found
        .into_iter()
        .map(|(path, in_condition)| VarRef { path, in_condition })
        .collect()
}

/// The bodies nested directly in `node` (used by the walk here and by the loader's checks).
pub(super) fn child_bodies(node: &Node) -> Vec<&[Node]> {
    match node {
        Node::MacroDefinition(_, def, _) => vec![&def.body],
        Node::FilterSection(_, section, _) => vec![&section.body],
        Node::Block(_, block, _) => vec![&block.body],
        Node::Forloop(_, forloop, _) => {
            let mut bodies: Vec<&[Node]> = vec![&forloop.body];
            bodies.extend(forloop.empty_body.as_deref());
            bodies
        }
        Node::If(branches, _) => {
            let mut bodies: Vec<&[Node]> = branches
                .conditions
                .iter()
                .map(|(_, _, body)| body.as_slice())
                .collect();
            bodies.extend(branches.otherwise.as_ref().map(|(_, body)| body.as_slice()));
            bodies
        }
        _ => Vec::new(),
    }
}

struct Walker<'a> {
    tera: &'a Tera,
    /// path → "only ever used in a condition"
    found: IndexMap<Vec<String>, bool>,
    globals: Vec<String>,
    /// Templates being walked, to stop on recursive includes.
    including: Vec<String>,
}

impl Walker<'_> {
    fn body(&mut self, nodes: &[Node], scope: &mut Vec<String>) {
        for node in nodes {
            self.node(node, scope);
        }
    }

    fn node(&mut self, node: &Node, scope: &mut Vec<String>) {
        match node {
            Node::VariableBlock(_, expr) => self.expr(expr, scope, false),
            Node::Set(_, set) => {
                self.expr(&set.value, scope, false);
                if set.global {
                    self.globals.push(set.key.clone());
                } else {
                    scope.push(set.key.clone());
                }
            }
            Node::FilterSection(_, section, _) => {
                self.call_args(&section.filter, scope, false);
                self.body(&section.body, scope);
            }
            Node::Forloop(_, forloop, _) => {
                self.expr(&forloop.container, scope, false);
                let mark = scope.len();
                scope.extend(forloop.key.iter().cloned());
                scope.push(forloop.value.clone());
                self.body(&forloop.body, scope);
                scope.truncate(mark);
                if let Some(empty) = &forloop.empty_body {
                    self.body(empty, scope);
                }
            }
            Node::If(branches, _) => {
                for (_, condition, body) in &branches.conditions {
                    self.expr(condition, scope, true);
                    self.body(body, scope);
                }
                if let Some((_, body)) = &branches.otherwise {
                    self.body(body, scope);
                }
            }
            Node::MacroDefinition(_, def, _) => {
                let mut macro_scope: Vec<String> = def.args.keys().cloned().collect();
                for default in def.args.values().flatten() {
                    self.expr(default, &mut macro_scope, false);
                }
                self.body(&def.body, &mut macro_scope);
            }
            Node::Block(_, block, _) => self.body(&block.body, scope),
            Node::Include(_, names, _) => self.include(names, scope),
            _ => {}
        }
    }

    fn include(&mut self, names: &[String], scope: &mut Vec<String>) {
        let tera = self.tera;
        let Some((name, template)) = names
            .iter()
            .find_map(|n| tera.templates.get(n).map(|t| (n, t)))
        else {
            return;
        };
        if self.including.contains(name) {
            return;
        }
        self.including.push(name.clone());
        self.body(&template.ast, scope);
        self.including.pop();
    }

    fn expr(&mut self, expr: &Expr, scope: &mut Vec<String>, cond: bool) {
        self.value(&expr.val, scope, cond);
        for filter in &expr.filters {
            self.call_args(filter, scope, cond);
        }
    }

    fn value(&mut self, val: &ExprVal, scope: &mut Vec<String>, cond: bool) {
        match val {
            ExprVal::Ident(ident) => self.ident(ident, scope, cond),
            ExprVal::Math(m) => {
                self.expr(&m.lhs, scope, cond);
                self.expr(&m.rhs, scope, cond);
            }
            ExprVal::Logic(l) => {
                self.expr(&l.lhs, scope, cond);
                self.expr(&l.rhs, scope, cond);
            }
            ExprVal::In(i) => {
                self.expr(&i.lhs, scope, cond);
                self.expr(&i.rhs, scope, cond);
            }
            ExprVal::Test(test) => {
                self.ident(&test.ident, scope, cond);
                for arg in &test.args {
                    self.expr(arg, scope, cond);
                }
            }
            ExprVal::MacroCall(call) => {
                for arg in call.args.values() {
                    self.expr(arg, scope, cond);
                }
            }
            ExprVal::FunctionCall(call) => self.call_args(call, scope, cond),
            ExprVal::Array(items) => {
                for item in items {
                    self.expr(item, scope, cond);
                }
            }
            ExprVal::StringConcat(concat) => {
                for value in &concat.values {
                    self.value(value, scope, cond);
                }
            }
            ExprVal::String(_) | ExprVal::Int(_) | ExprVal::Float(_) | ExprVal::Bool(_) => {}
        }
    }

    fn call_args(&mut self, call: &FunctionCall, scope: &mut Vec<String>, cond: bool) {
        // Sorted so the order of first use does not depend on HashMap iteration.
        let mut args: Vec<_> = call.args.iter().collect();
        args.sort_by(|a, b| a.0.cmp(b.0));
        for (_, arg) in args {
            self.expr(arg, scope, cond);
        }
    }

    fn ident(&mut self, ident: &str, scope: &mut Vec<String>, cond: bool) {
        let (path, indexes) = split_ident(ident);
        for index in indexes {
            self.ident(&index, scope, cond);
        }
        let Some(first) = path.first() else {
            return;
        };
        let bound = scope.contains(first)
            || self.globals.contains(first)
            || TERA_NAMES.contains(&first.as_str());
        if !bound {
            let only_in_condition = self.found.entry(path).or_insert(cond);
            *only_in_condition &= cond;
        }
    }
}

/// Splits `row.a["b"][0][key].c` into the static path `["row", "a", "b", "0"]` and the
/// dynamic index expressions (`["key"]`).
fn split_ident(ident: &str) -> (Vec<String>, Vec<String>) {
    let mut path = Vec::new();
    let mut indexes = Vec::new();
    let mut dynamic = false;
    let mut rest = ident;
    while !rest.is_empty() {
        let end = rest.find(['.', '[']).unwrap_or(rest.len());
        let (segment, tail) = rest.split_at(end);
        if !segment.is_empty() && !dynamic {
            path.push(segment.to_string());
        }
        if let Some(inner) = tail.strip_prefix('[') {
            let close = inner.find(']').unwrap_or(inner.len());
            let index = inner[..close].trim();
            let quoted = index
                .strip_prefix(['"', '\''])
                .and_then(|s| s.strip_suffix(['"', '\'']));
            match quoted {
                Some(key) if !dynamic => path.push(key.to_string()),
                None if index.bytes().all(|b| b.is_ascii_digit()) => {
                    if !dynamic {
                        path.push(index.to_string());
                    }
                }
                None => {
                    indexes.push(index.to_string());
                    dynamic = true;
                }
                Some(_) => {}
            }
            rest = inner.get(close + 1..).unwrap_or("");
        } else {
            rest = tail.strip_prefix('.').unwrap_or(tail);
        }
    }
    (path, indexes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn a_dotted_ident_becomes_a_path() {
        let (path, indexes) = split_ident("row.students_total");
        assert_eq!(path, strings(&["row", "students_total"]));
        assert!(indexes.is_empty());
    }

    #[test]
    fn quoted_and_numeric_indexes_extend_the_path() {
        let (path, _) = split_ident("row[\"Mã trường\"].x");
        assert_eq!(path, strings(&["row", "Mã trường", "x"]));
        let (path, _) = split_ident("messages.slogans[0]");
        assert_eq!(path, strings(&["messages", "slogans", "0"]));
    }

    #[test]
    fn a_variable_index_ends_the_path_and_is_reported_alone() {
        let (path, indexes) = split_ident("row[field.name].x");
        assert_eq!(path, strings(&["row"]));
        assert_eq!(indexes, strings(&["field.name"]));
    }
}

//! A small helper that turns "this field is wrong" into a located [`Diagnostic`].

use std::path::Path;

use super::diagnostic::{Diagnostic, Diagnostics};
use super::locate::{FieldPath, Locations};

pub struct Checker<'a> {
    pub file: &'a Path,
    pub loc: &'a Locations,
    pub diags: &'a mut Diagnostics,
}

impl Checker<'_> {
    /// An error about the value at `path`.
    pub fn error(&mut self, path: &FieldPath, message: impl Into<String>, hint: impl Into<String>) {
        let d = self.located(Diagnostic::error(self.file, message), path, false);
        self.diags.push(d.hint(hint));
    }

    /// An error about the key at `path` (unknown or misplaced field).
    pub fn key_error(
        &mut self,
        path: &FieldPath,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let d = self.located(Diagnostic::error(self.file, message), path, true);
        self.diags.push(d.hint(hint));
    }

    pub fn warning(
        &mut self,
        path: &FieldPath,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let d = self.located(Diagnostic::warning(self.file, message), path, false);
        self.diags.push(d.hint(hint));
    }

    /// A required field is absent: points at its parent.
    pub fn missing(&mut self, path: &FieldPath, hint: impl Into<String>) {
        let d = self.located(
            Diagnostic::error(self.file, "missing required field"),
            path,
            true,
        );
        self.diags.push(d.hint(hint));
    }

    fn located(&self, d: Diagnostic, path: &FieldPath, key: bool) -> Diagnostic {
        let pos = if key {
            self.loc.key(path)
        } else {
            self.loc.value(path)
        };
        let d = d.field(path.to_string());
        match pos {
            Some(p) => d.at(p.line, p.column),
            None => d,
        }
    }

    /// The scalar at `path` as written, before `${NAME}` substitution.
    pub fn raw(&self, path: &FieldPath) -> Option<&str> {
        self.loc.raw(path)
    }
}

/// Edit distance, for "did you mean …?" hints.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut cur = vec![i + 1; b.len() + 1];
        for (j, cb) in b.iter().enumerate() {
            cur[j + 1] = (prev[j] + usize::from(ca != *cb))
                .min(prev[j + 1] + 1)
                .min(cur[j] + 1);
        }
        prev = cur;
    }
    prev[b.len()]
}

/// "did you mean `x`?" when a known name is close, else a list of the known names.
pub fn suggest<'a>(name: &str, known: impl IntoIterator<Item = &'a str>) -> String {
    let known: Vec<&str> = known.into_iter().collect();
    let best = known.iter().min_by_key(|k| edit_distance(name, k));
    match best {
        Some(b) if edit_distance(name, b) <= 2.max(name.len() / 4) => {
            format!("did you mean `{b}`?")
        }
        _ if known.is_empty() => "none is defined".into(),
        _ => format!("defined here: {}", known.join(", ")),
    }
}

//! A small helper that turns "this field is wrong" into a located [`Diagnostic`].

use std::path::Path;

use super::diagnostic::{Diagnostic, Diagnostics};
use super::locate::{FieldPath, Locations};
pub(crate) use crate::suggest::edit_distance;
pub use crate::suggest::suggest;

pub(crate) struct Checker<'a> {
    pub file: &'a Path,
    pub loc: &'a Locations,
    pub diags: &'a mut Diagnostics,
}

impl Checker<'_> {
    /// An error about the value at `path`.
    pub(crate) fn error(
        &mut self,
        path: &FieldPath,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let d = self.located(Diagnostic::error(self.file, message), path, false);
        self.diags.push(d.hint(hint));
    }

    /// An error about the key at `path` (unknown or misplaced field).
    pub(crate) fn key_error(
        &mut self,
        path: &FieldPath,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let d = self.located(Diagnostic::error(self.file, message), path, true);
        self.diags.push(d.hint(hint));
    }

    pub(crate) fn warning(
        &mut self,
        path: &FieldPath,
        message: impl Into<String>,
        hint: impl Into<String>,
    ) {
        let d = self.located(Diagnostic::warning(self.file, message), path, false);
        self.diags.push(d.hint(hint));
    }

    /// A required field is absent: points at its parent.
    pub(crate) fn missing(&mut self, path: &FieldPath, hint: impl Into<String>) {
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
    pub(crate) fn raw(&self, path: &FieldPath) -> Option<&str> {
        self.loc.raw(path)
    }
}

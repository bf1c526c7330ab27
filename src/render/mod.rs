//! Message rendering: one Tera instance for the whole workspace, Vietnamese filters, the
//! `where` expressions of steps, and the template lint.
//!
//! `campaign` validation calls [`Renderer::load`], [`Renderer::add_expression`] and
//! [`Renderer::variables`] and reports what they find; `dispatch` builds a [`tera::Context`]
//! per recipient (`row`, joined rows, `campaign`, `step`, `occurrence`, `slogan`, `messages`)
//! and calls [`Renderer::eval_expression`], [`Renderer::render`] and
//! [`Renderer::render_zns`]. Channels never see a template, only rendered strings.
//!
//! Safety (docs/reliability.md#r17): only `html.tera` parts are HTML-autoescaped; an undefined
//! variable in `{{ }}` is an error; templates cannot read the environment ([`sandbox`]);
//! template files are capped at [`MAX_TEMPLATE_BYTES`] and rendered output at
//! [`MAX_OUTPUT_BYTES`]; a template may not recurse ([`cycle`]), and one message's rendering is
//! bounded in depth, loop turns and time ([`limits`]; the dispatcher renders through
//! [`off_thread`]).
//!
//! # Layout
//! - `load`: reading `templates/<name>/…`, every problem at once.
//! - `filters`, `decimal`: `vnd`, `vn_date`, `percent`, `unaccent`.
//! - `expression`: compiling a `where` safely.
//! - `lint`: the variables a template or expression reads.
//! - `calls`: filters, functions, tests and macros a template calls that do not exist.
//! - `zns`: `zns.yaml` parts.
//! - `sandbox`: disabled builtins and the output cap.
//! - `nesting`: brackets nested too deep for Tera's parser, refused before parsing.
//! - `cycle`: includes and macro calls that lead back to themselves, refused at load.
//! - `limits`: depth, loop-turn and time bounds of one render; rendering off the async workers.
//! - `error`: [`TemplateError`], [`RenderError`].

mod calls;
mod cycle;
mod decimal;
mod error;
mod expression;
mod filters;
mod limits;
mod lint;
mod load;
pub mod message;
mod nesting;
mod sandbox;
pub mod sms;
mod zns;

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use tera::{Context, Tera};

pub(crate) use calls::UnknownCall;
pub(crate) use error::{RenderError, TemplateError};
pub(crate) use limits::off_thread;
pub(crate) use lint::VarRef;
pub use zns::ZnsMessage;

/// The largest template file (or zns.yaml) accepted: 1 MiB.
pub(crate) const MAX_TEMPLATE_BYTES: usize = 1 << 20;
/// The largest rendered output of one template (or ZNS param): 1 MiB.
pub const MAX_OUTPUT_BYTES: usize = 1 << 20;

/// Which parts a template directory has.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Parts {
    /// `subject.tera`: the email subject.
    pub subject: bool,
    /// `text.tera`: email text body; SMS and other webhook text without `sms.tera`.
    pub text: bool,
    /// `sms.tera`: SMS and other webhook text, in place of `text.tera`.
    pub sms: bool,
    /// `html.tera`: the email HTML body (autoescaped).
    pub html: bool,
    /// `zns.yaml`: the Zalo ZNS message.
    pub zns: bool,
    /// `body.tera`: a webhook request body.
    pub body: bool,
}

/// All templates and `where` expressions of a workspace, compiled once; `Send + Sync`, so
/// one instance can be shared by every dispatcher task.
#[derive(Debug, Clone)]
pub struct Renderer {
    tera: Tera,
    parts: BTreeMap<String, Parts>,
    zns: HashMap<String, zns::ZnsTemplate>,
    /// `where` id → Tera template name.
    expressions: HashMap<String, String>,
    /// The `templates/` folder the templates came from.
    root: PathBuf,
}

impl Renderer {
    /// A renderer with no templates: filters and safety settings only.
    pub fn empty() -> Renderer {
        let mut tera = Tera::default();
        tera.autoescape_on(vec!["html.tera"]);
        filters::register(&mut tera);
        sandbox::register(&mut tera);
        limits::register(&mut tera);
        Renderer {
            tera,
            parts: BTreeMap::new(),
            zns: HashMap::new(),
            expressions: HashMap::new(),
            root: PathBuf::new(),
        }
    }

    /// Loads every `<name>/*.tera` and `<name>/zns.yaml` under `dir` (the workspace's
    /// `templates/`). Tera names are `<name>/<file>`, e.g. `parent_notice/text.tera`.
    /// Returns every problem found, each with its file and, when known, line and column.
    pub fn load(dir: &Path) -> Result<Renderer, Vec<TemplateError>> {
        let (renderer, errors) = Renderer::load_partial(dir);
        if errors.is_empty() {
            Ok(renderer)
        } else {
            Err(errors)
        }
    }

    /// Every template under `dir` that loads, with the errors of the others: `validate`
    /// checks the campaigns against what loaded instead of against nothing.
    pub(crate) fn load_partial(dir: &Path) -> (Renderer, Vec<TemplateError>) {
        let mut renderer = Renderer::empty();
        renderer.root = dir.to_path_buf();
        let errors = load::load_dir(&mut renderer, dir);
        (renderer, errors)
    }

    /// The template directory names found, sorted.
    pub fn template_names(&self) -> Vec<String> {
        self.parts.keys().cloned().collect()
    }

    /// Which parts the template `name` has; `None` if there is no such directory.
    pub fn parts(&self, name: &str) -> Option<Parts> {
        self.parts.get(name).copied()
    }

    /// Compiles a step's `where` (Tera expression syntax, as inside `{% if … %}`) under `id`,
    /// replacing any earlier expression with that id. Errors have an empty `file` and
    /// positions within `expr`.
    pub fn add_expression(&mut self, id: &str, expr: &str) -> Result<(), TemplateError> {
        let template = expression::compile(id, expr)?;
        let name = template.name.clone();
        self.tera.templates.insert(name.clone(), template);
        self.expressions.insert(id.to_string(), name);
        Ok(())
    }

    /// Evaluates the `where` added under `id`. As in `{% if %}`, a bare undefined name is
    /// false; comparing an undefined name is an error.
    pub fn eval_expression(&self, id: &str, ctx: &Context) -> Result<bool, RenderError> {
        let name = self
            .expressions
            .get(id)
            .ok_or_else(|| RenderError::UnknownExpression(id.to_string()))?;
        match sandbox::render_capped(&self.tera, name, ctx, MAX_OUTPUT_BYTES)?.as_str() {
            "true" => Ok(true),
            "false" => Ok(false),
            other => Err(RenderError::Failed {
                template: name.clone(),
                message: format!("expression produced {other:?} instead of true or false"),
            }),
        }
    }

    /// Renders the template `tera_name` (e.g. `parent_notice/text.tera`).
    pub fn render(&self, tera_name: &str, ctx: &Context) -> Result<String, RenderError> {
        if !self.tera.templates.contains_key(tera_name) {
            return Err(RenderError::UnknownTemplate(tera_name.to_string()));
        }
        sandbox::render_capped(&self.tera, tera_name, ctx, MAX_OUTPUT_BYTES)
    }

    /// Renders the `zns.yaml` of the template `name`.
    pub fn render_zns(&self, name: &str, ctx: &Context) -> Result<ZnsMessage, RenderError> {
        let zns = self
            .zns
            .get(name)
            .ok_or_else(|| RenderError::NoZns(name.to_string()))?;
        let mut params = IndexMap::new();
        for (key, tera_name) in &zns.params {
            params.insert(key.clone(), self.render(tera_name, ctx)?);
        }
        Ok(ZnsMessage {
            template_id: zns.template_id.clone(),
            params,
        })
    }

    /// The context variables read by a template (by Tera name) or by a `where` (by id), in
    /// order of first use; empty for an unknown name. See [`VarRef`].
    pub fn variables(&self, tera_name_or_expression_id: &str) -> Vec<VarRef> {
        let key = tera_name_or_expression_id;
        let name = match self.expressions.get(key) {
            Some(name) if !self.tera.templates.contains_key(key) => name.as_str(),
            _ => key,
        };
        lint::variables(&self.tera, name)
    }

    /// Filters, functions, tests and macros the loaded templates call that do not exist
    /// (they would fail every message using the template), one error per template file
    /// and name, at the line of its first use.
    pub fn unknown_calls(&self) -> Vec<UnknownCall> {
        let expressions: Vec<&String> = self.expressions.values().collect();
        let mut names: Vec<&String> = self
            .tera
            .templates
            .keys()
            .filter(|n| !expressions.contains(n))
            .collect();
        names.sort();
        let mut errors = Vec::new();
        for name in names {
            let file = self.file_of(name);
            let source = std::fs::read_to_string(&file).unwrap_or_default();
            errors.extend(calls::unknown_in(&self.tera, name, &file, &source));
        }
        errors
    }

    /// Filters, functions, tests and macros the `where` added under `id` calls that do not
    /// exist (they would fail each evaluation); errors have an empty `file`.
    pub fn unknown_calls_in_expression(&self, id: &str, expr: &str) -> Vec<UnknownCall> {
        let Some(name) = self.expressions.get(id) else {
            return Vec::new();
        };
        calls::unknown_in(&self.tera, name, Path::new(""), expr)
    }

    /// Whether the part `tera_name` (`<name>/<file>`, e.g. `parent_notice/zns.yaml`) exists.
    pub fn has(&self, tera_name: &str) -> bool {
        match tera_name.split_once('/') {
            Some((name, "zns.yaml")) => self.zns.contains_key(name),
            _ => self.tera.templates.contains_key(tera_name),
        }
    }

    /// The file a Tera name was loaded from (`<name>/zns.yaml[param]` → its `zns.yaml`).
    pub fn file_of(&self, tera_name: &str) -> PathBuf {
        let file = tera_name.split_once('[').map_or(tera_name, |(f, _)| f);
        self.root.join(file)
    }

    /// The Tera names of the params of a `zns.yaml`, for [`Renderer::variables`].
    pub fn zns_param_names(&self, name: &str) -> Vec<String> {
        self.zns
            .get(name)
            .map(|z| z.params.values().cloned().collect())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod limits_tests;

//! Campaign files: from YAML on disk to validated [`Campaign`]s (docs/campaign-file.md).
//!
//! `load` parses one file and collects unknown fields; `validate` (one file per section of
//! the campaign file) checks every rule that needs no data; `data_check` and `lint` check
//! the CSV files and templates a campaign uses. Everything reports into one [`Diagnostics`] list so that a
//! single `loa validate` shows every problem, each with file, line, column, field and hint.
//! [`Workspace::load`] composes these steps for all campaign files and the templates.

mod check;
pub(crate) mod content;
pub(crate) mod context;
pub(crate) mod count;
pub(crate) mod data_check;
mod data_dirs;
pub(crate) mod diagnostic;
pub(crate) mod env;
mod lint;
pub(crate) mod live;
pub(crate) mod load;
pub(crate) mod locate;
pub(crate) mod model;
pub(crate) mod select;
pub(crate) mod spec;
#[cfg(test)]
pub(crate) mod test_support;
mod validate;
pub(crate) use validate::signing_key as dkim_signing_key;

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

pub use check::suggest;
pub use content::{approval_hash, approvers_needed};
pub use data_check::DataScan;
pub(crate) use data_dirs::set_data_dirs;
pub(crate) use diagnostic::Diagnostic;
pub use diagnostic::Diagnostics;
pub(crate) use lint::parts_for;
pub(crate) use live::{Live, Sending};
pub use load::EnvPolicy;
pub(crate) use model::{Audience, Status};
pub use model::{
    Campaign, Channel, ChannelKind, Dkim, DkimAlgorithm, MAX_CONCURRENCY, Secret, Step,
    default_concurrency,
};
pub(crate) use validate::DEFAULT_TZ;
pub use validate::parse_duration;

use crate::render::Renderer;
use check::Checker;
use locate::FieldPath;

/// How to load a workspace.
#[derive(Debug, Clone, Copy)]
pub struct LoadOptions {
    pub env: EnvPolicy,
    pub data: DataScan,
}

/// Every campaign found, with the one template renderer they share.
pub struct Workspace {
    pub campaigns: Vec<Campaign>,
    pub renderer: Renderer,
    pub templates: PathBuf,
    /// Campaigns that keep sending an older, approved version (docs/approval.md): the
    /// workspace that version was loaded in, whose templates render it. Empty as loaded.
    pub pinned: HashMap<String, std::sync::Arc<Workspace>>,
}

impl Workspace {
    /// Loads the campaign files named by `paths` (files, or directories of `*.yaml`) and the
    /// templates under `templates`. Returns the workspace only when there is no error.
    pub fn load(
        paths: &[PathBuf],
        templates: &Path,
        opts: LoadOptions,
    ) -> (Option<Workspace>, Diagnostics) {
        Self::load_with_env(paths, templates, opts, &env::lookup)
    }

    /// [`Workspace::load`] with `lookup` in place of the process environment, for `${NAME}`
    /// references and `NAME_FILE` variables (tests give their own).
    pub fn load_with_env(
        paths: &[PathBuf],
        templates: &Path,
        opts: LoadOptions,
        lookup: &dyn Fn(&str) -> Option<String>,
    ) -> (Option<Workspace>, Diagnostics) {
        let mut diags = Diagnostics::default();
        let files = campaign_files(paths, &mut diags);
        let (mut renderer, broken) = load_templates(templates, &mut diags);
        let mut campaigns = Vec::new();
        let mut rows = data_check::RowReports::default();
        let mut seen: HashMap<String, PathBuf> = HashMap::new();
        for file in files {
            let Some(parsed) = load::parse_file(&file, opts.env, lookup, &mut diags) else {
                continue;
            };
            let mut c = Checker {
                file: &file,
                loc: &parsed.locations,
                diags: &mut diags,
            };
            let names = renderer.template_names();
            // Whatever part of the campaign is valid goes on to the template and data
            // checks, so that one run reports every problem.
            let campaign = validate::campaign(parsed.spec, &file, &names, &mut c);
            // An invalid id is reported already; a duplicate one would mix this file's
            // `where` expressions with the other's.
            if !campaign.id.is_empty() && !unique_id(&campaign, &mut seen, &mut c) {
                continue;
            }
            let lint = check_templates(&campaign, &mut renderer, &broken, &mut c);
            let headers = data_check::headers(&campaign, c.diags);
            data_check::columns(&campaign, &headers, &renderer, &lint, &mut c);
            if opts.data == DataScan::Full {
                data_check::rows(&campaign, &headers, &mut rows);
            }
            campaigns.push(campaign);
        }
        // Row problems after the rest, which holds their causes (a missing column…).
        let mut diags = diags.sorted();
        diags.extend(rows.finish().0);
        let ws = (!diags.has_errors()).then(|| Workspace {
            campaigns,
            renderer,
            templates: templates.to_path_buf(),
            pinned: HashMap::new(),
        });
        (ws, diags)
    }

    /// The renderer of `campaign`'s templates: the workspace's own, or that of the older
    /// approved version the campaign keeps sending.
    pub fn renderer_of(&self, campaign: &str) -> &Renderer {
        self.pinned
            .get(campaign)
            .map_or(&self.renderer, |ws| &ws.renderer)
    }

    pub fn campaign(&self, id_or_file: &str) -> Option<&Campaign> {
        self.campaigns
            .iter()
            .find(|c| c.id == id_or_file || c.file == Path::new(id_or_file))
    }
}

/// The YAML files named by `paths`, directories expanded (not recursively), sorted.
fn campaign_files(paths: &[PathBuf], diags: &mut Diagnostics) -> Vec<PathBuf> {
    let mut files = Vec::new();
    for p in paths {
        if p.is_dir() {
            let found = std::fs::read_dir(p).map(|rd| {
                rd.filter_map(|e| e.ok().map(|e| e.path()))
                    .filter(|f| {
                        f.is_file()
                            && matches!(
                                f.extension().and_then(|e| e.to_str()),
                                Some("yaml" | "yml")
                            )
                    })
                    .collect::<Vec<_>>()
            });
            match found {
                Ok(mut v) if !v.is_empty() => {
                    v.sort();
                    files.extend(v);
                }
                Ok(_) => diags.push(Diagnostic::error(
                    p,
                    "no campaign files (*.yaml) in this directory",
                )),
                Err(e) => diags.push(Diagnostic::error(
                    p,
                    format!("cannot read the directory: {e}"),
                )),
            }
        } else if p.is_file() {
            files.push(p.clone());
        } else {
            diags.push(
                Diagnostic::error(p, "no such file or directory")
                    .hint("run loa from the workspace folder, or give the path"),
            );
        }
    }
    files
}

/// The templates under `templates` that loaded, each problem of the others reported, and
/// the names of the templates with a problem: the campaign files are still checked against
/// the rest, and a step naming a broken template is not also told its parts are missing.
fn load_templates(templates: &Path, diags: &mut Diagnostics) -> (Renderer, HashSet<String>) {
    let (renderer, errors) = Renderer::load_partial(templates);
    let mut broken = HashSet::new();
    for e in errors {
        if let Some(name) = template_name(templates, &e.file) {
            broken.insert(name);
        }
        let mut d = Diagnostic::error(&e.file, e.message);
        if let Some(l) = e.line {
            d = d.at(l, e.column.unwrap_or(1));
        }
        diags.push(match e.hint {
            Some(h) => d.hint(h),
            None => d,
        });
    }
    for call in renderer.unknown_calls() {
        let mut d = Diagnostic::error(&call.file, call.message)
            .field(call.name)
            .hint(call.hint);
        if let Some(l) = call.line {
            d = d.at_line(l);
        }
        diags.push(d);
    }
    (renderer, broken)
}

/// The template (folder under `templates`) that `file` belongs to.
fn template_name(templates: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(templates).ok()?;
    let first = rel.components().next()?;
    Some(first.as_os_str().to_str()?.to_string())
}

/// Whether `campaign`'s id is the first use of it among the files read so far (`seen`).
fn unique_id(
    campaign: &Campaign,
    seen: &mut HashMap<String, PathBuf>,
    c: &mut Checker<'_>,
) -> bool {
    let Some(first) = seen.insert(campaign.id.clone(), c.file.to_path_buf()) else {
        return true;
    };
    let msg = format!(
        "campaign id {:?} is also used by {}",
        campaign.id,
        first.display()
    );
    c.error(
        &FieldPath::root().key("campaign"),
        msg,
        "campaign ids must be unique across files",
    );
    false
}

/// Templates exist with the parts each channel needs; `where` expressions compile.
/// Returns, per step, whether its variables can be checked: not when a part of its
/// template is missing or its `where` does not compile (the lint would only add noise).
/// Templates named in `broken` had an error of their own: their parts are not checked.
fn check_templates(
    campaign: &Campaign,
    renderer: &mut Renderer,
    broken: &HashSet<String>,
    c: &mut Checker<'_>,
) -> Vec<bool> {
    let mut lint = Vec::with_capacity(campaign.steps.len());
    for (i, step) in campaign.steps.iter().enumerate() {
        let path = FieldPath::root().key("steps").index(i);
        let condition = check_condition(campaign, step, &path, renderer, c);
        let parts =
            !broken.contains(&step.template) && check_parts(campaign, step, &path, renderer, c);
        lint.push(condition && parts);
    }
    check_bodies(campaign, renderer, broken, c);
    lint
}

/// The step's `where` compiles and calls only known functions and filters. False when it
/// does not compile.
fn check_condition(
    campaign: &Campaign,
    step: &Step,
    path: &FieldPath,
    renderer: &mut Renderer,
    c: &mut Checker<'_>,
) -> bool {
    let Some(expr) = &step.condition else {
        return true;
    };
    let id = step.condition_id(&campaign.id);
    if let Err(e) = renderer.add_expression(&id, expr) {
        c.error(
            &path.key("where"),
            format!("bad condition: {}", e.message),
            "write a Tera condition such as \"row.students_insured < row.students_total\"",
        );
        return false;
    }
    for call in renderer.unknown_calls_in_expression(&id, expr) {
        let msg = format!("{} `{}`", call.message, call.name);
        c.error(&path.key("where"), msg, call.hint);
    }
    true
}

/// The step's template has every part its channels require.
fn check_parts(
    campaign: &Campaign,
    step: &Step,
    path: &FieldPath,
    renderer: &Renderer,
    c: &mut Checker<'_>,
) -> bool {
    let mut ok = true;
    for ch in campaign.channels_of(step) {
        for (part, required) in parts_for(ch.kind, &step.template, renderer) {
            if required && !renderer.has(&format!("{}/{part}", step.template)) {
                let msg = format!(
                    "template {:?} has no {part}, which the {} channel `{}` needs",
                    step.template,
                    ch.kind.as_str(),
                    ch.name
                );
                c.error(
                    &path.key("template"),
                    msg,
                    format!("add templates/{}/{part}", step.template),
                );
                ok = false;
            }
        }
    }
    ok
}

/// Every webhook `body:` names a folder holding body.tera.
fn check_bodies(
    campaign: &Campaign,
    renderer: &Renderer,
    broken: &HashSet<String>,
    c: &mut Checker<'_>,
) {
    for (name, ch) in &campaign.channels {
        if let Some(body) = &ch.body
            && !broken.contains(body)
            && !renderer.has(&format!("{body}/body.tera"))
        {
            let p = FieldPath::root()
                .key("channels")
                .key(name.as_str())
                .key("body");
            c.error(
                &p,
                format!("no template templates/{body}/body.tera"),
                "a webhook body names a folder under templates/ holding body.tera",
            );
        }
    }
}

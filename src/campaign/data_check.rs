//! Checks that read the data files and templates a campaign uses.
//!
//! Headers first (cheap, always): key and join columns exist, every column a template or
//! `where` reads exists. Then, with [`DataScan::Full`], every row: duplicate keys, joins that
//! find nothing, phone numbers and e-mail addresses that cannot be used.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, RandomState};
use std::path::{Path, PathBuf};

use super::check::{Checker, suggest};
use super::context::{BODY_NAMES, CAMPAIGN_FIELDS, COMMON_NAMES, OCCURRENCE_FIELDS, STEP_FIELDS};
use super::diagnostic::{Diagnostic, Diagnostics};
use super::locate::FieldPath;
use super::model::{Campaign, Step};
use crate::audience::keys::FirstLines;
use crate::audience::recipients::{Recipient, Recipients, load_joins};
use crate::audience::{CsvSource, RowError, check_email};
use crate::render::Renderer;

/// How much of the data `validate` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DataScan {
    /// Headers only: fast, for `plan`, `preview` and the daemon's reloads.
    Headers,
    /// Every row: for `loa validate`.
    Full,
}

/// Row problems listed per file before "… and N more".
const MAX_ROW_REPORTS: usize = 20;

/// Headers of each audience, or None when its file could not be opened.
pub(crate) type Headers = HashMap<String, Vec<String>>;

pub(crate) fn headers(campaign: &Campaign, diags: &mut Diagnostics) -> Headers {
    let mut out = Headers::new();
    for (name, a) in &campaign.audiences {
        match CsvSource::open(&a.source, &a.columns) {
            Ok(src) => {
                out.insert(name.clone(), src.headers().to_vec());
            }
            Err(e) => diags.push(
                Diagnostic::error(&a.source, e.to_string())
                    .hint("save the file as CSV in UTF-8 with a header row"),
            ),
        }
    }
    out
}

/// Header-level checks of the audiences and of every step's columns, and of the variables
/// of each step whose `lint` flag (by index) is set.
pub(crate) fn columns(
    campaign: &Campaign,
    headers: &Headers,
    renderer: &Renderer,
    lint: &[bool],
    c: &mut Checker<'_>,
) {
    key_columns(campaign, headers, c);
    for (i, step) in campaign.steps.iter().enumerate() {
        let path = FieldPath::root().key("steps").index(i);
        let Some(h) = headers.get(&step.audience) else {
            continue;
        };
        address_columns(campaign, step, &path, h, c);
        if lint.get(i).copied().unwrap_or(false) {
            super::lint::step_variables(campaign, step, &path, headers, renderer, c);
        }
    }
}

/// Each audience's file has its key column and the column each of its joins matches on.
fn key_columns(campaign: &Campaign, headers: &Headers, c: &mut Checker<'_>) {
    for (name, a) in &campaign.audiences {
        let Some(h) = headers.get(name) else { continue };
        let path = FieldPath::root().key("audiences").key(name.as_str());
        if !h.contains(&a.key) {
            c.error(
                &path.key("key"),
                format!("column {:?} is not in {}", a.key, a.source.display()),
                suggest(&a.key, h.iter().map(String::as_str)),
            );
        }
        for (alias, target) in &a.joins {
            let Some(fk) = campaign.audiences.get(target).map(|t| &t.key) else {
                continue;
            };
            if !h.contains(fk) {
                let msg = format!(
                    "join `{alias}` needs column {fk:?} (the key of `{target}`) in {}",
                    a.source.display()
                );
                c.error(
                    &path.key("join").key(alias.as_str()),
                    msg,
                    "add the column to the data file",
                );
            }
        }
    }
}

/// The audience of `step` has the column each of its channels reads addresses from.
fn address_columns(
    campaign: &Campaign,
    step: &Step,
    path: &FieldPath,
    h: &[String],
    c: &mut Checker<'_>,
) {
    for channel in campaign.channels_of(step) {
        let ch = &channel.name;
        let field = step.recipient_field(channel);
        if !h.iter().any(|x| x == field) {
            let at = if step.to.is_some() {
                path.key("to")
            } else {
                path.key("channel")
            };
            let msg = format!(
                "the {} channel `{ch}` reads addresses from column {field:?}, which {} does not have",
                channel.kind.as_str(),
                step.audience
            );
            c.error(
                &at,
                msg,
                format!(
                    "add the column, or set `to:` to one of: {}",
                    crate::audience::column_list(h)
                ),
            );
        }
    }
}

/// Row problems of the data files, each reported once however many audiences (or campaigns)
/// read the file, listed after every other problem: a missing column, a bad key or join
/// setting is the cause of whatever its rows would show, so it is read first.
#[derive(Debug, Default)]
pub(crate) struct RowReports {
    files: Vec<FileReports>,
}

#[derive(Debug)]
struct FileReports {
    file: PathBuf,
    /// Hashes of (line, column) already counted: one problem per cell, or per row for a
    /// problem of the whole row. A duplicate key is found both by the audience that owns the
    /// file and by each audience joining it, in its own words.
    seen: HashSet<u64>,
    listed: Vec<Diagnostic>,
    more: usize,
    hasher: RandomState,
}

impl RowReports {
    fn report(&mut self, file: &Path, d: Diagnostic) {
        let at = match self.files.iter().position(|f| f.file == file) {
            Some(at) => at,
            None => {
                self.files.push(FileReports {
                    file: file.to_path_buf(),
                    seen: HashSet::new(),
                    listed: Vec::new(),
                    more: 0,
                    hasher: RandomState::new(),
                });
                self.files.len() - 1
            }
        };
        let f = &mut self.files[at];
        if !f.seen.insert(f.hasher.hash_one((d.line, &d.field))) {
            return;
        }
        if f.listed.len() < MAX_ROW_REPORTS {
            f.listed.push(d);
        } else {
            f.more += 1;
        }
    }

    /// The problems of each file by line, then how many more it has.
    pub(crate) fn finish(self) -> Diagnostics {
        let mut out = Diagnostics::default();
        for mut f in self.files {
            f.listed.sort_by_key(|d| d.line);
            out.extend(f.listed);
            if f.more > 0 {
                out.push(
                    Diagnostic::warning(
                        &f.file,
                        format!(
                            "… and {} more row problems in this file, not listed",
                            f.more
                        ),
                    )
                    .hint("fix the rows above and run loa validate again to see the next ones"),
                );
            }
        }
        out
    }
}

/// Reads every row of every audience the campaign uses. An audience whose file lacks its key
/// or a join column is not read: that column is the problem, reported by [`columns`].
pub(crate) fn rows(campaign: &Campaign, headers: &Headers, reports: &mut RowReports) {
    for (name, a) in &campaign.audiences {
        if !readable(campaign, name, headers) {
            continue;
        }
        let (joins, join_errors) = match load_joins(&super::select::join_sources(campaign, name)) {
            Ok(j) => j,
            Err(e) => {
                reports.report(&a.source, Diagnostic::error(&a.source, e.to_string()));
                continue;
            }
        };
        for (alias, e) in join_errors {
            if let Some(t) = a.joins.get(&alias).and_then(|t| campaign.audiences.get(t)) {
                reports.report(&t.source, row_diag(&t.source, &e, true));
            }
        }
        let (phones, emails) = super::select::address_fields(campaign, name);
        let Ok(recipients) = Recipients::open(&a.source, &a.key, &a.columns, &joins, phones) else {
            continue;
        };
        scan(&a.source, &a.key, recipients, &emails, reports);
    }
}

/// Whether the rows of audience `name` mean anything: its file and those it joins opened,
/// with their key columns and the join columns present.
fn readable(campaign: &Campaign, name: &str, headers: &Headers) -> bool {
    let has = |audience: &str, column: &str| {
        headers
            .get(audience)
            .is_some_and(|h| h.iter().any(|c| c == column))
    };
    let Some(a) = campaign.audiences.get(name) else {
        return false;
    };
    has(name, &a.key)
        && a.joins.values().all(|target| {
            campaign
                .audiences
                .get(target)
                .is_some_and(|t| has(name, &t.key) && has(target, &t.key))
        })
}

fn scan(
    file: &Path,
    key: &str,
    recipients: Recipients<'_>,
    emails: &[String],
    reports: &mut RowReports,
) {
    let mut keys = Keys::default();
    for item in recipients {
        let r = match item {
            Ok(r) => r,
            Err(e) => {
                reports.report(file, row_diag(file, &e, true));
                continue;
            }
        };
        if let Some(e) = keys.problem(&r, key) {
            reports.report(file, row_diag(file, &e, true));
        }
        for p in &r.problems {
            let is_join = p.message.contains("matches no row");
            reports.report(file, row_diag(file, p, is_join));
        }
        for e in email_problems(&r, emails) {
            reports.report(file, row_diag(file, &e, false));
        }
    }
}

/// The keys met so far in a file, with the line of the first row of each.
#[derive(Default)]
struct Keys {
    first_lines: FirstLines,
}

impl Keys {
    /// What is wrong with the key of `r`, in column `key`: empty, or met before.
    fn problem(&mut self, r: &Recipient, key: &str) -> Option<RowError> {
        let message = if r.key.is_empty() {
            // `run` records such a row as skipped (it has no identity to send under).
            "the key is empty; the row will be skipped".to_string()
        } else {
            match self.first_lines.first(&r.key, r.line) {
                first if first == r.line => return None,
                first => format!("the key is used again (first on line {first})"),
            }
        };
        Some(RowError {
            line: r.line,
            column: Some(key.to_string()),
            message,
            hint: Some("every row needs its own key".into()),
        })
    }
}

/// The addresses in the `emails` columns of `r` that cannot be sent to; empty cells are
/// not problems here.
fn email_problems(r: &Recipient, emails: &[String]) -> Vec<RowError> {
    emails
        .iter()
        .filter_map(|field| {
            let v = r
                .row
                .get(field)
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())?;
            let e = check_email(v).err()?;
            Some(RowError {
                line: r.line,
                column: Some(field.clone()),
                message: e,
                hint: Some("the row will be skipped on e-mail".into()),
            })
        })
        .collect()
}

fn row_diag(file: &Path, e: &RowError, error: bool) -> Diagnostic {
    let d = if error {
        Diagnostic::error(file, e.message.clone())
    } else {
        Diagnostic::warning(file, e.message.clone())
    };
    let mut d = d.at_line(e.line as usize);
    if let Some(c) = &e.column {
        d = d.field(c.clone());
    }
    match &e.hint {
        Some(h) => d.hint(h.clone()),
        None => d,
    }
}

/// Known fields of the fixed context objects, for the lint.
pub(crate) fn fixed_fields(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "campaign" => Some(&CAMPAIGN_FIELDS),
        "step" => Some(&STEP_FIELDS),
        "occurrence" => Some(&OCCURRENCE_FIELDS),
        _ => None,
    }
}

/// Top-level names a template of this kind may read.
pub(crate) fn allowed_names(aliases: impl Iterator<Item = String>, body: bool) -> Vec<String> {
    let mut names: Vec<String> = COMMON_NAMES.iter().map(|s| s.to_string()).collect();
    if body {
        names.extend(BODY_NAMES.iter().map(|s| s.to_string()));
    }
    names.extend(aliases);
    names
}

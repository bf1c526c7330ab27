//! Checks that read the data files and templates a campaign uses.
//!
//! Headers first (cheap, always): key and join columns exist, every column a template or
//! `where` reads exists. Then, with [`DataScan::Full`], every row: duplicate keys, joins that
//! find nothing, phone numbers and e-mail addresses that cannot be used.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::path::Path;

use super::check::{Checker, suggest};
use super::context::{BODY_NAMES, CAMPAIGN_FIELDS, COMMON_NAMES, OCCURRENCE_FIELDS, STEP_FIELDS};
use super::diagnostic::{Diagnostic, Diagnostics};
use super::locate::FieldPath;
use super::model::Campaign;
use crate::audience::recipients::{Recipients, load_joins};
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
pub type Headers = HashMap<String, Vec<String>>;

pub fn headers(campaign: &Campaign, diags: &mut Diagnostics) -> Headers {
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

/// Header-level checks of the audiences and of every step's columns and variables.
pub fn columns(campaign: &Campaign, headers: &Headers, renderer: &Renderer, c: &mut Checker<'_>) {
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
    for (i, step) in campaign.steps.iter().enumerate() {
        let path = FieldPath::root().key("steps").index(i);
        let Some(h) = headers.get(&step.audience) else {
            continue;
        };
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
        super::lint::step_variables(campaign, step, &path, headers, renderer, c);
    }
}

/// Reads every row of every audience the campaign uses.
pub fn rows(campaign: &Campaign, diags: &mut Diagnostics) {
    for (name, a) in &campaign.audiences {
        let (joins, join_errors) = match load_joins(&super::select::join_sources(campaign, name)) {
            Ok(j) => j,
            Err(e) => {
                diags.push(Diagnostic::error(&a.source, e.to_string()));
                continue;
            }
        };
        for (alias, e) in join_errors {
            if let Some(t) = a.joins.get(&alias).and_then(|t| campaign.audiences.get(t)) {
                diags.push(row_diag(&t.source, &e, true));
            }
        }
        let (phones, emails) = super::select::address_fields(campaign, name);
        let Ok(recipients) = Recipients::open(&a.source, &a.key, &a.columns, &joins, phones) else {
            continue;
        };
        scan(&a.source, recipients, &emails, diags);
    }
}

fn scan(file: &Path, recipients: Recipients<'_>, emails: &[String], diags: &mut Diagnostics) {
    let hasher = RandomState::new();
    let mut keys: HashMap<u64, u64> = HashMap::new();
    let mut reported = 0usize;
    let mut more = 0usize;
    let mut report = |d: Diagnostic, diags: &mut Diagnostics| {
        if reported < MAX_ROW_REPORTS {
            reported += 1;
            diags.push(d);
        } else {
            more += 1;
        }
    };
    for item in recipients {
        let r = match item {
            Ok(r) => r,
            Err(e) => {
                report(row_diag(file, &e, true), diags);
                continue;
            }
        };
        if r.key.is_empty() {
            // `run` records such a row as skipped (it has no identity to send under).
            let e = RowError {
                line: r.line,
                column: None,
                message: "the key is empty; the row will be skipped".into(),
                hint: Some("every row needs its own key".into()),
            };
            report(row_diag(file, &e, true), diags);
        } else if let Some(first) = keys.insert(hasher.hash_one(&r.key), r.line) {
            let e = RowError {
                line: r.line,
                column: None,
                message: format!("the key is used again (first on line {first})"),
                hint: Some("every row needs its own key".into()),
            };
            report(row_diag(file, &e, true), diags);
        }
        for p in &r.problems {
            let is_join = p.message.contains("matches no row");
            report(row_diag(file, p, is_join), diags);
        }
        for field in emails {
            if let Some(v) = r
                .row
                .get(field)
                .and_then(|v| v.as_str())
                .filter(|v| !v.is_empty())
                && let Err(e) = check_email(v)
            {
                let e = RowError {
                    line: r.line,
                    column: Some(field.clone()),
                    message: e,
                    hint: Some("the row will be skipped on e-mail".into()),
                };
                report(row_diag(file, &e, false), diags);
            }
        }
    }
    if more > 0 {
        diags.push(Diagnostic::warning(
            file,
            format!("… and {more} more row problems not listed"),
        ));
    }
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
pub fn fixed_fields(name: &str) -> Option<&'static [&'static str]> {
    match name {
        "campaign" => Some(&CAMPAIGN_FIELDS),
        "step" => Some(&STEP_FIELDS),
        "occurrence" => Some(&OCCURRENCE_FIELDS),
        _ => None,
    }
}

/// Top-level names a template of this kind may read.
pub fn allowed_names(aliases: impl Iterator<Item = String>, body: bool) -> Vec<String> {
    let mut names: Vec<String> = COMMON_NAMES.iter().map(|s| s.to_string()).collect();
    if body {
        names.extend(BODY_NAMES.iter().map(|s| s.to_string()));
    }
    names.extend(aliases);
    names
}

//! Templates and `where` expressions against the data they will see.
//!
//! Tera treats an undefined name inside `{% if %}` as false, so a misspelled column in a
//! `where` would silently match nobody (or everybody). This lint reads the variables each
//! template and expression uses and checks them against the CSV headers and the fixed
//! context (docs/reliability.md#r17: "a misspelled name inside `{% if %}` is reported by the
//! template lint").

use super::check::{Checker, suggest};
use super::data_check::{Headers, allowed_names, fixed_fields};
use super::diagnostic::Diagnostic;
use super::locate::FieldPath;
use super::model::{Campaign, ChannelKind, Step};
use crate::render::message::text_file;
use crate::render::{Renderer, VarRef};

/// The files of the folder `template` a channel kind reads, and whether each is required. A
/// webhook's text is `sms.tera` when the folder has one, else `text.tera` ([`text_file`]).
pub(crate) fn parts_for(
    kind: ChannelKind,
    template: &str,
    renderer: &Renderer,
) -> Vec<(&'static str, bool)> {
    let text = text_file(renderer, kind, template);
    match kind {
        ChannelKind::Smtp => vec![("subject.tera", true), (text, true), ("html.tera", false)],
        ChannelKind::ZaloZns => vec![("zns.yaml", true)],
        ChannelKind::Webhook => vec![(text, true)],
    }
}

/// Checks that the step's template exists with the parts its channels need, registers its
/// `where`, and checks the variables both use.
pub(super) fn step_variables(
    campaign: &Campaign,
    step: &Step,
    path: &FieldPath,
    headers: &Headers,
    renderer: &Renderer,
    c: &mut Checker<'_>,
) {
    let aliases: Vec<String> = campaign
        .audiences
        .get(&step.audience)
        .map(|a| a.joins.keys().cloned().collect())
        .unwrap_or_default();
    if step.condition.is_some() {
        let names = allowed_names(aliases.iter().cloned(), false);
        for v in renderer.variables(&step.condition_id(&campaign.id)) {
            if let Some((msg, hint)) = problem(&v, &names, campaign, step, headers) {
                c.error(&path.key("where"), msg, hint);
            }
        }
    }
    for ch in campaign.channels_of(step) {
        for (part, _) in parts_for(ch.kind, &step.template, renderer) {
            let names = match part {
                "zns.yaml" => renderer.zns_param_names(&step.template),
                _ => vec![format!("{}/{part}", step.template)],
            };
            for name in names {
                template_part(campaign, step, &name, &aliases, false, headers, renderer, c);
            }
        }
        if let Some(body) = &ch.body {
            template_part(
                campaign,
                step,
                &format!("{body}/body.tera"),
                &aliases,
                true,
                headers,
                renderer,
                c,
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn template_part(
    campaign: &Campaign,
    step: &Step,
    name: &str,
    aliases: &[String],
    body: bool,
    headers: &Headers,
    renderer: &Renderer,
    c: &mut Checker<'_>,
) {
    let names = allowed_names(aliases.iter().cloned(), body);
    let mut source = None;
    for v in renderer.variables(name) {
        if let Some((msg, hint)) = problem(&v, &names, campaign, step, headers) {
            let file = renderer.file_of(name);
            let field = v.path.join(".");
            let text =
                source.get_or_insert_with(|| std::fs::read_to_string(&file).unwrap_or_default());
            let mut d = Diagnostic::error(&file, format!("{msg} (used by step `{}`)", step.id))
                .field(field.clone())
                .hint(hint);
            if let Some(line) = line_of(text, &field) {
                d = d.at_line(line);
            }
            c.diags.push(d);
        }
    }
}

/// The 1-based line of the first use of the dotted name `field` in a template's text.
fn line_of(text: &str, field: &str) -> Option<usize> {
    text.lines()
        .position(|line| {
            line.match_indices(field).any(|(at, _)| {
                !line[at + field.len()..].starts_with(|c: char| c.is_alphanumeric() || c == '_')
            })
        })
        .map(|i| i + 1)
}

/// What is wrong with one variable reference, if anything.
fn problem(
    v: &VarRef,
    names: &[String],
    campaign: &Campaign,
    step: &Step,
    headers: &Headers,
) -> Option<(String, String)> {
    let first = v.path.first()?;
    let second = v.path.get(1);
    if !names.contains(first) {
        let hint = suggest(first, names.iter().map(String::as_str));
        return Some((format!("unknown variable `{first}`"), hint));
    }
    let second = second?;
    if let Some(aud) = row_audience(first, campaign, step) {
        return column_problem(v, aud, campaign, headers);
    }
    if first == "messages" && !campaign.messages.contains_key(second) {
        return Some((
            format!("`messages.{second}` is not defined"),
            suggest(second, campaign.messages.keys().map(String::as_str)),
        ));
    }
    let fields = fixed_fields(first)?;
    if !fields.contains(&second.as_str()) {
        return Some((
            format!("`{first}` has no field `{second}`"),
            suggest(second, fields.iter().copied()),
        ));
    }
    if first == "campaign" {
        return campaign_field(&v.path[1..], campaign);
    }
    None
}

/// The audience whose row the top-level name `first` is: `row` is the step's own, a join
/// alias the audience it joins; None for every other name.
fn row_audience<'a>(first: &str, campaign: &'a Campaign, step: &'a Step) -> Option<&'a str> {
    if first == "row" {
        Some(step.audience.as_str())
    } else {
        campaign
            .audiences
            .get(&step.audience)
            .and_then(|a| a.joins.get(first))
            .map(String::as_str)
    }
}

/// `row.<column>` (or `<alias>.<column>`) names a column of the audience's file; nothing
/// to say when the file could not be read, which is reported already.
fn column_problem(
    v: &VarRef,
    aud: &str,
    campaign: &Campaign,
    headers: &Headers,
) -> Option<(String, String)> {
    let [first, second, ..] = v.path.as_slice() else {
        return None;
    };
    let cols = headers.get(aud)?;
    if cols.contains(second) {
        return None;
    }
    let file = campaign
        .audiences
        .get(aud)
        .map(|a| a.source.display().to_string())
        .unwrap_or_default();
    let quiet = if v.in_condition {
        " (in a condition it would silently count as false)"
    } else {
        ""
    };
    Some((
        format!("`{first}.{second}`: column {second:?} is not in {file}{quiet}"),
        suggest(second, cols.iter().map(String::as_str)),
    ))
}

/// `campaign.period.…` and `campaign.windows.<name>.…`: only the campaign's own windows
/// and a range's `start` and `end` exist.
fn campaign_field(path: &[String], campaign: &Campaign) -> Option<(String, String)> {
    const RANGE: [&str; 2] = ["start", "end"];
    let range_field = |at: Option<&String>, what: String| {
        let field = at?;
        (!RANGE.contains(&field.as_str())).then(|| {
            (
                format!("{what} has no field `{field}`"),
                suggest(field, RANGE),
            )
        })
    };
    match path.first().map(String::as_str) {
        Some("period") => range_field(path.get(1), "`campaign.period`".into()),
        Some("windows") => {
            let name = path.get(1)?;
            if !campaign.windows.contains_key(name) {
                let hint = suggest(name, campaign.windows.keys().map(String::as_str));
                return Some((
                    format!("`campaign.windows.{name}`: the campaign has no window `{name}`"),
                    format!("{hint} (windows are defined under `windows:` in the campaign file)"),
                ));
            }
            range_field(path.get(2), format!("`campaign.windows.{name}`"))
        }
        _ => None,
    }
}

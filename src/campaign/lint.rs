//! Templates and `where` expressions against the data they will see.
//!
//! Tera treats an undefined name inside `{% if %}` as false, so a misspelled column in a
//! `where` would silently match nobody (or everybody). This lint reads the variables each
//! template and expression uses and checks them against the CSV headers and the fixed
//! context (R17: "a misspelled name inside `{% if %}` is reported by the template lint").

use super::check::{Checker, suggest};
use super::data_check::{Headers, allowed_names, fixed_fields};
use super::diagnostic::Diagnostic;
use super::locate::FieldPath;
use super::model::{Campaign, ChannelKind, Step};
use crate::render::{Renderer, VarRef};

/// The Tera names of the parts a channel kind needs, and whether each is required.
pub fn parts_for(kind: ChannelKind) -> &'static [(&'static str, bool)] {
    match kind {
        ChannelKind::Smtp => &[
            ("subject.tera", true),
            ("text.tera", true),
            ("html.tera", false),
        ],
        ChannelKind::ZaloZns => &[("zns.yaml", true)],
        ChannelKind::Webhook => &[("text.tera", true)],
    }
}

/// Checks that the step's template exists with the parts its channels need, registers its
/// `where`, and checks the variables both use.
pub fn step_variables(
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
        for (part, _) in parts_for(ch.kind) {
            let names = match *part {
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
    for v in renderer.variables(name) {
        if let Some((msg, hint)) = problem(&v, &names, campaign, step, headers) {
            let file = renderer.file_of(name);
            let d = Diagnostic::error(&file, format!("{msg} (used by step `{}`)", step.id))
                .field(v.path.join("."))
                .hint(hint);
            c.diags.push(d);
        }
    }
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
    let audience = if first == "row" {
        Some(step.audience.as_str())
    } else {
        campaign
            .audiences
            .get(&step.audience)
            .and_then(|a| a.joins.get(first))
            .map(String::as_str)
    };
    let second = second?;
    if let Some(aud) = audience {
        let cols = headers.get(aud)?;
        if !cols.contains(second) {
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
            return Some((
                format!("`{first}.{second}`: column {second:?} is not in {file}{quiet}"),
                suggest(second, cols.iter().map(String::as_str)),
            ));
        }
        return None;
    }
    if first == "messages" && !campaign.messages.contains_key(second) {
        return Some((
            format!("`messages.{second}` is not defined"),
            suggest(second, campaign.messages.keys().map(String::as_str)),
        ));
    }
    let fields = fixed_fields(first)?;
    (!fields.contains(&second.as_str())).then(|| {
        (
            format!("`{first}` has no field `{second}`"),
            suggest(second, fields.iter().copied()),
        )
    })
}

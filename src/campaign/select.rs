//! Which recipients a step selects: the audience stream, joins, and the `where` condition.
//!
//! `where` is evaluated against the data as it is when asked (SPEC §3), so a reminder stops
//! by itself once the data says the goal is met.

use std::collections::HashMap;

use anyhow::{Context as _, Result, bail};
use chrono::DateTime;
use chrono_tz::Tz;

use super::context::Shared;
use super::model::{Campaign, ChannelKind, Step};
use indexmap::IndexMap;

use crate::audience::recipients::{Join, JoinSource, Recipient, Recipients, load_joins};
use crate::render::Renderer;

/// Where each joined audience of `audience` comes from, keyed by alias.
pub fn join_sources<'a>(
    campaign: &'a Campaign,
    audience: &str,
) -> IndexMap<String, JoinSource<'a>> {
    let Some(a) = campaign.audiences.get(audience) else {
        return IndexMap::new();
    };
    a.joins
        .iter()
        .filter_map(|(alias, t)| {
            let t = campaign.audiences.get(t)?;
            Some((
                alias.clone(),
                (t.source.as_path(), t.key.as_str(), &t.columns),
            ))
        })
        .collect()
}

/// The joined audiences of `audience`, loaded once and shared by its recipient streams.
pub fn joins(campaign: &Campaign, audience: &str) -> Result<Vec<Join>> {
    let (joins, _row_errors) = load_joins(&join_sources(campaign, audience))
        .with_context(|| format!("loading the audiences joined to {audience}"))?;
    Ok(joins)
}

/// Columns of `audience` used as (phone, e-mail) addresses by the campaign's steps.
pub fn address_fields(campaign: &Campaign, audience: &str) -> (Vec<String>, Vec<String>) {
    let (mut phones, mut emails) = (Vec::new(), Vec::new());
    for step in campaign.steps.iter().filter(|s| s.audience == audience) {
        for ch in campaign.channels_of(step) {
            let list = if ch.kind == ChannelKind::Smtp {
                &mut emails
            } else {
                &mut phones
            };
            let field = step.recipient_field(ch).to_string();
            if !list.contains(&field) {
                list.push(field);
            }
        }
    }
    (phones, emails)
}

/// A stream over `audience`'s recipients with phone columns normalised.
pub fn recipients<'a>(
    campaign: &Campaign,
    audience: &str,
    joins: &'a [Join],
) -> Result<Recipients<'a>> {
    let a = campaign
        .audiences
        .get(audience)
        .with_context(|| format!("unknown audience {audience}"))?;
    Recipients::open(
        &a.source,
        &a.key,
        &a.columns,
        joins,
        address_fields(campaign, audience).0,
    )
    .with_context(|| format!("opening {}", a.source.display()))
}

/// Whether `step` selects the recipient whose context is `ctx`.
pub fn selects(
    renderer: &Renderer,
    campaign: &Campaign,
    step: &Step,
    ctx: &tera::Context,
) -> Result<bool> {
    if step.condition.is_none() {
        return Ok(true);
    }
    Ok(renderer.eval_expression(&step.condition_id(&campaign.id), ctx)?)
}

/// The occurrences of a step `plan` counts recipients for: (time, number).
pub type StepOccurrences = HashMap<String, Vec<(DateTime<Tz>, u32)>>;

/// Occurrences whose context reads alike for a `where`: one context, the numbers it
/// stands for.
type Groups = Vec<(Shared, Vec<u32>)>;

/// For each (step, occurrence number), how many rows of today's data match the step's
/// `where` (before addresses are checked), evaluated in the context the enqueue of that
/// occurrence gives it ([`Shared::for_where`]). Occurrences whose context reads the same
/// for the `where` share one evaluation, and one pass over each audience file serves all
/// its steps.
pub fn count_matching(
    campaign: &Campaign,
    renderer: &Renderer,
    at: &StepOccurrences,
    mut progress: impl FnMut(u64),
) -> Result<HashMap<(String, u32), u64>> {
    let mut counts: HashMap<(String, u32), u64> = HashMap::new();
    for audience in campaign.audiences.keys() {
        // Per step: the names its `where` reads, and its occurrences grouped.
        let mut steps: Vec<(&Step, Vec<String>, Groups)> = Vec::new();
        for s in campaign.steps.iter().filter(|s| &s.audience == audience) {
            let Some(occurrences) = at.get(&s.id).filter(|o| !o.is_empty()) else {
                continue;
            };
            let names = condition_names(renderer, campaign, s);
            let mut groups: IndexMap<String, (Shared, Vec<u32>)> = IndexMap::new();
            for (t, n) in occurrences {
                counts.insert((s.id.clone(), *n), 0);
                let shared = Shared::for_where(campaign, s, *t, *n);
                groups
                    .entry(shared.condition_key(&names))
                    .or_insert_with(|| (shared, Vec::new()))
                    .1
                    .push(*n);
            }
            let groups = groups.into_values().collect();
            steps.push((s, names, groups));
        }
        if steps.is_empty() {
            continue;
        }
        let joins = joins(campaign, audience)?;
        for (i, item) in recipients(campaign, audience, &joins)?.enumerate() {
            let Ok(r) = item else {
                // An unreadable row is a skipped message of every step and occurrence (issue
                // 14 item 7), as a duplicate or empty key is once `where` selects it: all
                // counted here.
                for (step, _, groups) in &steps {
                    for n in groups.iter().flat_map(|(_, numbers)| numbers) {
                        *counts.entry((step.id.clone(), *n)).or_default() += 1;
                    }
                }
                continue;
            };
            for (step, names, groups) in &steps {
                for (shared, numbers) in groups {
                    let ctx = shared.for_condition(&r, names);
                    if selects(renderer, campaign, step, &ctx)
                        .with_context(|| format!("step {}: row on line {}", step.id, r.line))?
                    {
                        for n in numbers {
                            *counts.entry((step.id.clone(), *n)).or_default() += 1;
                        }
                    }
                }
            }
            if i % 65_536 == 0 {
                progress(i as u64);
            }
        }
    }
    Ok(counts)
}

/// The top-level names the step's `where` reads (empty without a `where`).
pub fn condition_names(renderer: &Renderer, campaign: &Campaign, step: &Step) -> Vec<String> {
    let mut names: Vec<String> = renderer
        .variables(&step.condition_id(&campaign.id))
        .into_iter()
        .filter_map(|v| v.path.into_iter().next())
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The recipient of `audience` whose key is `key`.
pub fn find(campaign: &Campaign, audience: &str, key: &str) -> Result<Recipient> {
    let joins = joins(campaign, audience)?;
    for r in recipients(campaign, audience, &joins)?.flatten() {
        if r.key == key {
            return Ok(r);
        }
    }
    bail!("no row with key {key:?} in audience `{audience}`")
}

/// The address of `r` on `channel` for `step`: the normalised phone or the e-mail, or why
/// there is none (the message will be `skipped` with that reason, or go to the fallback).
/// A problem the audience found in the column (a join that matched nothing) comes first;
/// the rest is [`address_in_row`]. The reason never quotes the value: the audience's
/// messages name the problem only.
pub fn address(
    step: &Step,
    channel: &super::model::Channel,
    r: &Recipient,
) -> Result<String, String> {
    let field = step.recipient_field(channel);
    if let Some(p) = r
        .problems
        .iter()
        .find(|p| p.column.as_deref() == Some(field))
        .filter(|_| !cell(&r.row, field).trim().is_empty())
    {
        return Err(p.message.clone());
    }
    address_in_row(step, channel, &r.row)
}

/// The one rule for a recipient's address on a channel, from a data row: the row read at
/// enqueue, or the row stored with a message when the dispatcher offers the step's fallback
/// at send time. Empty is "no {field}"; a phone channel's value must be a Vietnamese mobile
/// number (normalised to `84…`, as [`crate::audience::recipients::Recipients`] already
/// wrote it into the row), an e-mail channel's a usable e-mail address.
pub fn address_in_row(
    step: &Step,
    channel: &super::model::Channel,
    row: &crate::audience::Row,
) -> Result<String, String> {
    let field = step.recipient_field(channel);
    let value = cell(row, field);
    if value.trim().is_empty() {
        return Err(format!("no {field}"));
    }
    match channel.kind {
        ChannelKind::Smtp => crate::audience::check_email(&value),
        ChannelKind::ZaloZns | ChannelKind::Webhook => {
            crate::audience::phone::normalize(&value).map_err(|e| e.to_string())
        }
    }
}

/// The text of `field` in `row` ("" when absent).
fn cell(row: &crate::audience::Row, field: &str) -> String {
    row.get(field)
        .map(crate::audience::key_string)
        .unwrap_or_default()
}

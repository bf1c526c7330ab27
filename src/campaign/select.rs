//! Which recipients a step selects: the one pipeline `plan` counts with and enqueue turns
//! into message rows.
//!
//! source ([`Candidates`]: the audience file streamed, joined rows attached, phones
//! normalised) → key check (the first row with a key is its recipient; an unreadable row,
//! an empty or a repeated key is a skipped message) → `where` ([`Where`]) → address
//! ([`address`]). `plan` stops before the address: it counts the messages, sent or skipped
//! ([`super::count`]).
//!
//! `where` is evaluated against the data as it is when asked (docs/campaign-file.md#where), so
//! a reminder stops by itself once the data says the goal is met.

use anyhow::{Context as _, Result, bail};

use super::context::Shared;
use super::model::{Campaign, ChannelKind, Step};
use indexmap::IndexMap;

use crate::audience::RowError;
use crate::audience::keys::FirstLines;
use crate::audience::recipients::{Join, JoinSource, Recipient, Recipients, load_joins};
use crate::render::Renderer;

/// Where each joined audience of `audience` comes from, keyed by alias.
pub(crate) fn join_sources<'a>(
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
pub(crate) fn joins(campaign: &Campaign, audience: &str) -> Result<Vec<Join>> {
    let (joins, _row_errors) = load_joins(&join_sources(campaign, audience))
        .with_context(|| format!("loading the audiences joined to {audience}"))?;
    Ok(joins)
}

/// Columns of `audience` used as (phone, e-mail) addresses by the campaign's steps.
pub(crate) fn address_fields(campaign: &Campaign, audience: &str) -> (Vec<String>, Vec<String>) {
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
pub(crate) fn recipients<'a>(
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
pub(crate) fn selects(
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

/// A step's `where`, ready to run against the rows of its audience.
pub(crate) struct Where<'a> {
    renderer: &'a Renderer,
    campaign: &'a Campaign,
    pub step: &'a Step,
    /// The top-level names it reads ([`condition_names`]).
    pub names: Vec<String>,
}

impl<'a> Where<'a> {
    pub(crate) fn new(renderer: &'a Renderer, campaign: &'a Campaign, step: &'a Step) -> Self {
        let names = condition_names(renderer, campaign, step);
        Where {
            renderer,
            campaign,
            step,
            names,
        }
    }

    /// Whether the step selects `r` in the occurrence whose context is `shared`.
    pub(crate) fn selects(&self, shared: &Shared, r: &Recipient) -> Result<bool> {
        let ctx = shared.for_condition(r, &self.names);
        selects(self.renderer, self.campaign, self.step, &ctx)
            .with_context(|| format!("step {}: `where` on line {}", self.step.id, r.line))
    }
}

/// Whether a row's key makes it a recipient: the first row with a key is its recipient, a
/// later one is skipped (after `where`, like any row), never merged into the first one's
/// message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyUse {
    First,
    Empty,
    /// The key of the row on line `first`.
    Repeated {
        first: u64,
    },
}

/// One row of an audience as every selection sees it, before any `where`.
#[derive(Debug)]
pub(crate) enum Candidate {
    /// A row that cannot be read (`validate` reports it): no `where` can select or exclude
    /// it, so it is a skipped message of every step, never a silent gap.
    Unreadable(RowError),
    /// A readable row, with its joined rows and normalised phones, and its key's use.
    Row(Recipient, KeyUse),
}

/// The source end of the pipeline: an audience's rows, joined, with their key checked.
pub(crate) struct Candidates<'a> {
    stream: Recipients<'a>,
    /// The line of the first row of each key seen.
    first_lines: FirstLines,
}

impl<'a> Candidates<'a> {
    /// Opens `audience`'s file; `joins` are its joined audiences ([`joins`]).
    pub(crate) fn open(campaign: &Campaign, audience: &str, joins: &'a [Join]) -> Result<Self> {
        Ok(Candidates {
            stream: recipients(campaign, audience, joins)?,
            first_lines: FirstLines::new(),
        })
    }

    /// Whether the file's reading stopped early: the rows after the last one are unknown.
    pub(crate) fn stopped(&self) -> bool {
        self.stream.stopped()
    }
}

impl Iterator for Candidates<'_> {
    type Item = Candidate;

    fn next(&mut self) -> Option<Candidate> {
        let r = match self.stream.next()? {
            Ok(r) => r,
            Err(e) => return Some(Candidate::Unreadable(e)),
        };
        let key = match r.key.is_empty() {
            true => KeyUse::Empty,
            false => match self.first_lines.first(&r.key, r.line) {
                first if first == r.line => KeyUse::First,
                first => KeyUse::Repeated { first },
            },
        };
        Some(Candidate::Row(r, key))
    }
}

/// Names and reasons for the rows of one audience file that cannot be a recipient.
pub(crate) struct RowsOf<'a> {
    pub source: &'a std::path::Path,
    /// The file name, as recipients of unusable rows are named (`students.csv:57`).
    name: String,
    key: &'a str,
}

impl<'a> RowsOf<'a> {
    pub(crate) fn new(c: &'a Campaign, audience: &str) -> RowsOf<'a> {
        let a = &c.audiences[audience];
        let name = a.source.file_name().map_or_else(
            || a.source.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        RowsOf {
            source: &a.source,
            name,
            key: &a.key,
        }
    }

    /// The recipient of the row on `line`: the file and line, stable across runs, so the
    /// occurrence enqueued again after a crash does not add it twice.
    pub(crate) fn id(&self, line: u64) -> String {
        format!("{}:{line}", self.name)
    }

    /// Why the unreadable row is skipped; row errors name line, column and problem, never
    /// a value.
    pub(crate) fn reason(&self, e: &RowError) -> String {
        format!("unusable row in {}: {e}", self.name)
    }

    /// Why the row on `line` is skipped for its key, or `None` when it is the recipient.
    pub(crate) fn key_reason(&self, line: u64, key: KeyUse) -> Option<String> {
        match key {
            KeyUse::First => None,
            KeyUse::Empty => Some(format!(
                "unusable row in {}: line {line}: the key column `{}` is empty",
                self.name, self.key
            )),
            KeyUse::Repeated { first } => Some(format!(
                "duplicate key in {}: line {line} has the key of line {first}, which is the \
                 one used (the first row wins)",
                self.name
            )),
        }
    }
}

/// The top-level names the step's `where` reads (empty without a `where`).
pub(crate) fn condition_names(
    renderer: &Renderer,
    campaign: &Campaign,
    step: &Step,
) -> Vec<String> {
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
pub(crate) fn find(campaign: &Campaign, audience: &str, key: &str) -> Result<Recipient> {
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
pub(crate) fn address(
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
pub(crate) fn address_in_row(
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

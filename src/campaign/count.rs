//! How many messages each occurrence of a campaign's steps gives with today's data: what
//! `loa plan` shows, counted through the selection pipeline enqueue uses
//! ([`super::select`]), so that plan and the messages enqueued agree.

use std::collections::HashMap;

use anyhow::Result;
use chrono::DateTime;
use chrono_tz::Tz;
use indexmap::IndexMap;

use super::context::Shared;
use super::model::{Campaign, Step};
use super::select::{Candidate, Candidates, Where, joins};
use crate::render::Renderer;

/// The occurrences of a step `plan` counts recipients for: (time, number).
pub(crate) type StepOccurrences = HashMap<String, Vec<(DateTime<Tz>, u32)>>;

/// Messages per (step, occurrence number).
pub(crate) type Counts = HashMap<(String, u32), u64>;

/// Occurrences whose context reads alike for a `where`: one context, the numbers it
/// stands for.
type Groups = Vec<(Shared, Vec<u32>)>;

/// For each (step, occurrence number), how many messages today's data gives it: the rows
/// its `where` selects (before addresses are checked), evaluated in the context the enqueue
/// of that occurrence gives it ([`Shared::for_where`]), and the unreadable rows, which are
/// skipped messages of every occurrence. Occurrences whose context reads the same for the
/// `where` share one evaluation, and one pass over each audience file serves all its steps.
pub(crate) fn count_matching(
    campaign: &Campaign,
    renderer: &Renderer,
    at: &StepOccurrences,
    mut progress: impl FnMut(u64),
) -> Result<Counts> {
    let mut counts = Counts::new();
    for audience in campaign.audiences.keys() {
        let steps = step_groups(campaign, renderer, audience, at, &mut counts);
        if !steps.is_empty() {
            count_audience(campaign, audience, &steps, &mut counts, &mut progress)?;
        }
    }
    Ok(counts)
}

/// The steps of `audience` with occurrences to count, each with its `where` and its
/// occurrences grouped; every (step, occurrence) starts at 0 in `counts`.
fn step_groups<'a>(
    campaign: &'a Campaign,
    renderer: &'a Renderer,
    audience: &str,
    at: &StepOccurrences,
    counts: &mut Counts,
) -> Vec<(Where<'a>, Groups)> {
    let mut steps = Vec::new();
    for s in campaign.steps.iter().filter(|s| s.audience == audience) {
        let Some(occurrences) = at.get(&s.id).filter(|o| !o.is_empty()) else {
            continue;
        };
        let condition = Where::new(renderer, campaign, s);
        let mut groups: IndexMap<String, (Shared, Vec<u32>)> = IndexMap::new();
        for (t, n) in occurrences {
            counts.insert((s.id.clone(), *n), 0);
            let shared = Shared::for_where(campaign, s, *t, *n);
            groups
                .entry(shared.condition_key(&condition.names))
                .or_insert_with(|| (shared, Vec::new()))
                .1
                .push(*n);
        }
        steps.push((condition, groups.into_values().collect()));
    }
    steps
}

/// One pass over `audience` through the pipeline, counting for every step and group.
fn count_audience(
    campaign: &Campaign,
    audience: &str,
    steps: &[(Where<'_>, Groups)],
    counts: &mut Counts,
    progress: &mut impl FnMut(u64),
) -> Result<()> {
    let mut add = |step: &Step, numbers: &[u32]| {
        for n in numbers {
            *counts.entry((step.id.clone(), *n)).or_default() += 1;
        }
    };
    let joins = joins(campaign, audience)?;
    for (i, candidate) in Candidates::open(campaign, audience, &joins)?.enumerate() {
        match candidate {
            // A skipped message of every step and occurrence, whatever its `where`.
            Candidate::Unreadable(_) => {
                for (condition, groups) in steps {
                    for (_, numbers) in groups {
                        add(condition.step, numbers);
                    }
                }
            }
            // A row with an empty or repeated key counts once `where` selects it: it is
            // then a skipped message.
            Candidate::Row(r, _) => {
                for (condition, groups) in steps {
                    for (shared, numbers) in groups {
                        if condition.selects(shared, &r)? {
                            add(condition.step, numbers);
                        }
                    }
                }
            }
        }
        if i % 65_536 == 0 {
            progress(i as u64);
        }
    }
    Ok(())
}

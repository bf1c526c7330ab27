//! What the staff dashboard reads (issue 4), whatever the backend: the types, and the
//! counting of one walk over a campaign's messages into its breakdown by channel and by
//! occurrence. The backends' `overview` run the queries.

use std::collections::{BTreeMap, HashMap};

use super::{MessageState, Millis, StateCount, StatusRow, to_u32, to_u64};

/// One occurrence of a step as the ledger knows it, with its messages counted by state
/// (every state of [`MessageState::ALL`], zeros included).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OccurrenceFigures {
    pub step: String,
    pub n: u32,
    pub at: Millis,
    pub enqueued_at: Option<Millis>,
    pub missed_at: Option<Millis>,
    pub counts: BTreeMap<String, u64>,
}

/// One campaign's messages by state (every state, zeros included) and its last activity
/// (the latest `updated_at`); see [`CampaignTotals::of`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct CampaignTotals {
    pub counts: BTreeMap<String, u64>,
    pub last_activity: Millis,
}

impl CampaignTotals {
    /// The totals of each campaign in `counts` ([`Store::state_counts`]), its channels
    /// added up.
    pub(crate) fn of(counts: &[StateCount]) -> HashMap<String, CampaignTotals> {
        let mut out: HashMap<String, CampaignTotals> = HashMap::new();
        for c in counts {
            let totals = out
                .entry(c.campaign.clone())
                .or_insert_with(|| CampaignTotals {
                    counts: zeros(),
                    last_activity: Millis::MIN,
                });
            *totals.counts.entry(c.state.to_string()).or_insert(0) += c.count;
            totals.last_activity = totals.last_activity.max(c.last_change);
        }
        out
    }
}

/// A failed message, address and error as stored: the caller masks them.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FailedMessage {
    pub step: String,
    pub channel: String,
    pub address: Option<String>,
    pub attempts: u32,
    pub last_code: Option<String>,
    pub last_error: Option<String>,
    pub updated_at: Millis,
}

/// Message counts keyed by state word, as [`StatusRow::counts`] holds them.
type Counts = BTreeMap<String, u64>;

fn zeros() -> Counts {
    MessageState::zero_counts()
}

/// One row of the walk: (step, channel, occurrence number, state, count).
pub(super) type CountRow = (String, String, i64, String, i64);

/// One occurrence row: (step, n, at, enqueued_at, missed_at), by time, step and n.
pub(super) type OccurrenceRow = (String, i64, Millis, Option<Millis>, Option<Millis>);

/// `campaign`'s messages by step, channel and state, and its occurrences each with the
/// states of its messages (zeros when it has none), from one walk's `counts` and the
/// campaign's `occurrences`.
pub(super) fn breakdown(
    campaign: &str,
    counts: Vec<CountRow>,
    occurrences: Vec<OccurrenceRow>,
) -> anyhow::Result<(Vec<StatusRow>, Vec<OccurrenceFigures>)> {
    let mut by_channel: BTreeMap<(String, String), Counts> = BTreeMap::new();
    let mut by_occurrence: HashMap<(String, u32), Counts> = HashMap::new();
    for (step, channel, n, state, count) in counts {
        let n = to_u32(n, "occurrence number")?;
        let count = to_u64(count);
        let per_channel = by_channel
            .entry((step.clone(), channel))
            .or_insert_with(zeros);
        *per_channel.entry(state.clone()).or_insert(0) += count;
        let per_occurrence = by_occurrence.entry((step, n)).or_insert_with(zeros);
        *per_occurrence.entry(state).or_insert(0) += count;
    }
    let status = by_channel
        .into_iter()
        .map(|((step, channel), counts)| StatusRow {
            campaign: campaign.to_owned(),
            step,
            channel,
            counts,
        })
        .collect();
    let figures = occurrences
        .into_iter()
        .map(|(step, n, at, enqueued_at, missed_at)| {
            let n = to_u32(n, "occurrence number")?;
            let counts = by_occurrence
                .remove(&(step.clone(), n))
                .unwrap_or_else(zeros);
            Ok(OccurrenceFigures {
                step,
                n,
                at,
                enqueued_at,
                missed_at,
                counts,
            })
        })
        .collect::<anyhow::Result<_>>()?;
    Ok((status, figures))
}

//! What an attempt's outcome writes, whatever the backend: the message's new columns
//! ([`Change`]), its `attempt` row ([`Try`]) and its event ([`event_of`]).

use super::{MessageState, Millis, Outcome, OutcomeKind};

/// An event whose detail is particular to its row.
#[derive(Clone, Debug)]
pub(crate) struct Event {
    pub(crate) message: i64,
    pub(crate) from: MessageState,
    pub(crate) to: MessageState,
    pub(crate) detail: Option<String>,
}

/// The columns one outcome writes; `None` keeps the stored value where the outcome has
/// nothing to say (a `sent` keeps the last error of earlier tries, and so does a release,
/// back to `pending` with no error of its own: each backend's SQL writes `last_error` and
/// `last_code` only when `error` is set).
pub(crate) struct Change<'a> {
    pub(crate) state: MessageState,
    pub(crate) sent_at: Option<Millis>,
    pub(crate) provider_id: Option<&'a str>,
    pub(crate) next_attempt_at: Option<Millis>,
    pub(crate) code: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
    /// 1 when no try happened (skipped, expired, released): the attempt is given back, as
    /// `release` does.
    pub(crate) give_back: i64,
}

impl<'a> Change<'a> {
    pub(crate) fn of(o: &'a Outcome) -> Change<'a> {
        let base = Change {
            state: MessageState::Sent,
            sent_at: None,
            provider_id: None,
            next_attempt_at: None,
            code: None,
            error: None,
            give_back: 0,
        };
        match &o.result {
            OutcomeKind::Sent { provider_id } => Change {
                sent_at: Some(o.started_at + o.duration_ms),
                provider_id: provider_id.as_deref(),
                ..base
            },
            OutcomeKind::Retry { at, code, error } => Change {
                state: MessageState::Pending,
                next_attempt_at: Some(*at),
                code: code.as_deref(),
                error: Some(error),
                ..base
            },
            OutcomeKind::Failed { code, error } => Change {
                state: MessageState::Failed,
                code: code.as_deref(),
                error: Some(error),
                ..base
            },
            OutcomeKind::Skipped { reason } => Change {
                state: MessageState::Skipped,
                error: Some(reason),
                give_back: 1,
                ..base
            },
            OutcomeKind::Expired => Change {
                state: MessageState::Expired,
                give_back: 1,
                ..base
            },
            // Due as it was, its last error and code kept: nothing was tried.
            OutcomeKind::Released => Change {
                state: MessageState::Pending,
                give_back: 1,
                ..base
            },
        }
    }
}

pub(crate) fn event_of(o: &Outcome) -> Event {
    let (to, detail) = match &o.result {
        OutcomeKind::Sent { provider_id } => (
            MessageState::Sent,
            provider_id.as_ref().map(|id| format!("provider id {id}")),
        ),
        OutcomeKind::Retry { code, error, .. } => {
            (MessageState::Pending, Some(with_code(code, error)))
        }
        OutcomeKind::Failed { code, error } => (MessageState::Failed, Some(with_code(code, error))),
        OutcomeKind::Skipped { reason } => (MessageState::Skipped, Some(reason.clone())),
        OutcomeKind::Expired => (MessageState::Expired, Some("window closed".to_owned())),
        OutcomeKind::Released => (
            MessageState::Pending,
            Some("released unsent: too little of its lease was left".to_owned()),
        ),
    };
    Event {
        message: o.id,
        from: MessageState::Sending,
        to,
        detail,
    }
}

fn with_code(code: &Option<String>, error: &str) -> String {
    match code {
        Some(code) => format!("{code}: {error}"),
        None => error.to_owned(),
    }
}

/// An `attempt` row: a try that reached (or tried to reach) the provider.
pub(crate) struct Try<'a> {
    pub(crate) message: i64,
    pub(crate) attempt: u32,
    pub(crate) started_at: Millis,
    pub(crate) duration_ms: i64,
    pub(crate) outcome: &'static str,
    pub(crate) code: Option<&'a str>,
    pub(crate) error: Option<&'a str>,
}

impl<'a> Try<'a> {
    pub(crate) fn of(o: &'a Outcome) -> Option<Try<'a>> {
        let (outcome, code, error) = match &o.result {
            OutcomeKind::Sent { .. } => ("sent", None, None),
            OutcomeKind::Retry { code, error, .. } => {
                ("transient", code.as_deref(), Some(error.as_str()))
            }
            OutcomeKind::Failed { code, error } => {
                ("permanent", code.as_deref(), Some(error.as_str()))
            }
            OutcomeKind::Skipped { .. } | OutcomeKind::Expired | OutcomeKind::Released => {
                return None;
            }
        };
        Some(Try {
            message: o.id,
            attempt: o.attempt,
            started_at: o.started_at,
            duration_ms: o.duration_ms,
            outcome,
            code,
            error,
        })
    }
}

//! loa plans, schedules and delivers communications campaigns.
//!
//! Communications staff of Vietnam Social Security describe a campaign (the yearly drive to
//! get every pupil and student covered by health insurance) in a YAML file; loa checks it,
//! plans every occurrence with real recipient counts, and renders each message exactly as it
//! will be sent. The user-facing contract is `SPEC.md`.
//!
//! # Layout
//!
//! - [`cli`]: one file per command; parses arguments once, returns an exit code.
//! - [`campaign`]: YAML spec types, loading with `${NAME}` substitution, validation into a
//!   [`campaign::Campaign`] with located diagnostics, data and template checks, the template
//!   context, and which recipients a step selects.
//! - [`audience`]: CSV sources (streamed), cell typing, NFC text, phone numbers
//!   (`84xxxxxxxxx`), e-mail addresses, joined lookups and recipient streams.
//! - [`schedule`]: pure time math — occurrences from `at` / `cron`, windows, quiet hours,
//!   skip dates and `max`; it never reads the clock.
//! - [`dispatch`]: enqueue (occurrences → message rows) and claim → send → record, retry
//!   policy, rate limits.
//! - [`daemon`]: composes store, enqueue and the dispatcher's pump; hot reload of edited
//!   campaigns, data and templates; shutdown on SIGINT/SIGTERM.
//! - [`render`]: one Tera instance for the workspace, Vietnamese filters, the sandbox
//!   (no environment access), per-channel rendering and the variable lint.
//! - [`channel`]: sends one rendered message: SMTP (own NODELAY connection pool), webhooks
//!   (signed, no redirects), Zalo ZNS (with token refresh), or the outbox files; classifies
//!   every provider answer as transient, permanent or pausing the channel.
//! - [`mask`]: hides addresses in texts (provider errors, skip reasons) before the ledger
//!   keeps them and wherever they are shown.
//! - [`store`]: the message ledger in SQLite — campaigns, occurrences, one row per message
//!   with its state machine, fenced claims and outcomes, attempts, state events, settings,
//!   delivery receipts and suppressions.
//! - [`web`]: the HTTP side — `/healthz`, `/metrics`, signed delivery callbacks and
//!   unsubscribe links, over the ledger and the dispatcher's [`web::Metrics`]; the staff
//!   dashboard (login, campaigns, timeline, funnel, failures, coverage; pause, resume and
//!   retry) over the ledger and the loaded workspace.
//! - [`log_limit`]: log lines a client can cause, written at most once per kind per
//!   interval with the count left out.

#![forbid(unsafe_code)]

pub mod audience;
pub mod campaign;
pub mod channel;
pub mod channel_kind;
pub mod cli;
pub mod daemon;
pub mod dispatch;
pub mod links;
pub mod log_limit;
pub mod mask;
pub mod metrics;
pub mod render;
pub mod schedule;
pub mod store;
pub mod suggest;
pub mod web;

//! loa plans, schedules and delivers communications campaigns.
//!
//! Communications staff of Vietnam Social Security describe a campaign (the yearly drive to
//! get every pupil and student covered by health insurance) in a YAML file; loa checks it,
//! plans every occurrence with real recipient counts, and renders each message exactly as it
//! will be sent. The user-facing contract is `docs/` (start from README.md).
//!
//! # Layout
//!
//! The modules form layers that point one way: a module names only modules of the layers
//! below it, never one above it nor a sibling of its own layer (`tests/it/layers.rs`
//! checks this on every test run). Top to bottom:
//!
//! 1. [`cli`]: one file per command; parses arguments once, returns an exit code.
//! 2. [`daemon`]: composes store, dispatcher, scheduler and web from one settings value;
//!    hot reload of edited campaigns, data and templates; four-eyes approval (which version
//!    of each active campaign it sends); shutdown on SIGINT/SIGTERM.
//! 3. [`dispatch`]: enqueue (occurrences → message rows), housekeeping (lease rescue,
//!    expiry), campaign registration, and claim → send → record, retry policy, rate limits.
//!    Beside it [`web`]: the HTTP side — `/healthz`, `/metrics`, signed delivery callbacks
//!    and unsubscribe links, over the ledger and [`metrics::Metrics`]; the staff dashboard
//!    (login, campaigns, timeline, funnel, failures, coverage; pause, resume and retry)
//!    over the ledger and the loaded workspace.
//! 4. [`metrics`]: the counters the dispatcher and the web routes share.
//! 5. [`channel`]: sends one rendered message: SMTP (own NODELAY connection pool), webhooks
//!    (signed, no redirects), Zalo ZNS (with token refresh), or the outbox files; classifies
//!    every provider answer as transient, permanent or pausing the channel. Beside it
//!    [`store`]: the message ledger in SQLite — campaigns, occurrences, one row per message
//!    with its state machine, fenced claims and outcomes, attempts, state events, settings,
//!    delivery receipts, suppressions, the audit trail, staff accounts and approvals.
//! 6. [`campaign`]: YAML spec types, loading with `${NAME}` substitution, validation into a
//!    [`campaign::Campaign`] with located diagnostics, data and template checks, the template
//!    context, which recipients a step selects, and the approval hash of its content.
//! 7. [`mask`]: hides addresses and credentials in texts (provider errors, skip reasons,
//!    URLs) before the ledger keeps them and wherever they are shown; it reads phone
//!    numbers as the audience does.
//! 8. [`audience`]: CSV sources (streamed), cell typing, NFC text, phone numbers
//!    (`84xxxxxxxxx`), e-mail addresses, joined lookups and recipient streams. Beside it
//!    [`render`]: one Tera instance for the workspace, Vietnamese filters, the sandbox (no
//!    environment access), per-channel rendering and the variable lint; and [`schedule`]:
//!    pure time math — occurrences from `at` / `cron`, windows, quiet hours, skip dates and
//!    `max`; it never reads the clock.
//! 9. Neutral leaves, usable from every layer and naming none: [`channel_kind`] (which kind
//!    of channel), [`mail`] (an smtp channel's sender, headers and relay URL, parsed without
//!    I/O — the channel builds on them and `loa validate` checks them with the same code),
//!    [`links`] (signed unsubscribe tokens), [`suggest`] ("did you mean …?"), and
//!    [`log_limit`] (log lines a client can cause, written at most once per kind per
//!    interval with the count left out), and [`account`] (staff roles, account names,
//!    Argon2id password hashes — the CLI, the ledger and the dashboard's login share them).

#![forbid(unsafe_code)]
#![warn(unreachable_pub)]

pub mod account;
pub mod audience;
pub mod campaign;
pub mod channel;
pub(crate) mod channel_kind;
pub mod cli;
pub mod daemon;
pub mod dispatch;
pub(crate) mod links;
pub(crate) mod log_limit;
pub(crate) mod mail;
pub(crate) mod mask;
pub(crate) mod metrics;
pub mod render;
pub(crate) mod schedule;
pub mod store;
pub(crate) mod suggest;
pub mod web;

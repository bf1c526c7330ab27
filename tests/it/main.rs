//! loa's integration tests: one binary that runs the real `loa` program on real files.
//!
//! `support::workspace` copies the example workspace into a temporary folder and runs the
//! built binary there, so every test sees exactly what a newcomer sees after a fresh clone.
//!
//! `reliability_*` are the daemon-level reliability tests (docs/reliability.md#r1, #r2, #r4,
//! #r5, #r6, #r9): each generates a campaign workspace, runs `loa run` as a child process
//! against the SMTP or HTTP sink in `support`, crashes or kills it, and reads its SQLite
//! ledger. They print their figures and seeds
//! (`cargo test --test it reliability -- --nocapture`).
//!
//! `web_*` run loa's HTTP side in-process on a real loopback listener (`support::web`):
//! callback signatures and replays (docs/reliability.md#r12), unsubscribe links
//! (docs/reliability.md#r18), `/healthz`, and no canary address or secret in answers, metrics
//! or logs (docs/reliability.md#r16); the dashboard login (docs/reliability.md#r14) and the
//! dashboard's pages and buttons (issue 4); staff accounts and roles on every dashboard
//! route (issue 17).

mod browser_dashboard;
mod browser_no_token;
mod channel_outbox;
mod channel_smtp;
mod channel_smtp_dkim;
mod channel_webhook;
mod channel_zalo;
mod cli_manners;
mod cli_user;
mod concurrency;
mod daemon_accounts;
mod daemon_approval;
mod daemon_log_flood;
mod daemon_pause;
mod daemon_reload;
mod daemon_sms_text;
mod daemon_startup;
mod daemon_templates;
mod daemon_unsubscribe;
mod fallback_and_plan;
mod layers;
mod ledger_commands;
mod masking;
mod outbound_policy;
mod plan;
mod preview;
mod properties;
mod prune;
mod reliability_crash_windows;
mod reliability_kill9;
mod reliability_limits;
mod reliability_rate;
mod reliability_schedule;
mod reliability_smtp_faults;
mod reliability_webhook;
mod secrets;
mod simulate;
mod store_schema_parity;
mod support;
mod validate;
mod validate_later;
mod validate_one_round;
mod web_accounts;
mod web_callbacks;
mod web_dashboard;
mod web_privacy;
mod web_session;
mod web_unsubscribe;

//! loa's integration tests: one binary that runs the real `loa` program on real files.
//!
//! `helpers` copies the example workspace into a temporary folder and runs the built binary
//! there, so every test sees exactly what a newcomer sees after a fresh clone.

mod channel_outbox;
mod channel_smtp;
mod channel_webhook;
mod channel_zalo;
mod helpers;
mod plan;
mod preview;
mod simulate;
mod support;
mod validate;

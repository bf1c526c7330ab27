//! The store's conformance suite: each test runs once per backend ([`on_both!`]), against
//! a fresh SQLite file and a fresh PostgreSQL database, through [`crate::store::Store`]
//! alone and the backend-neutral helpers of [`super::test_support`]. A test of one
//! backend's own machinery (SQLite's writer, PostgreSQL's connection) stays in that
//! backend's file.
//!
//! [`on_both!`]: super::test_support::on_both

mod account;
mod approval;
mod attempt;
mod audit;
/// Its fixtures also serve the SQLite backend's own fallback test.
pub(super) mod fallback;
mod health;
mod kv;
mod message;
mod occurrence;
mod overview;
mod pause;
mod prune;
mod read;
mod receipt;
mod suppression;
mod sweep;

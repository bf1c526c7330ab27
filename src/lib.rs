//! loa plans, schedules and delivers communications campaigns.
#![forbid(unsafe_code)]

pub mod audience;
pub mod campaign;
pub mod cli;
pub mod render;
pub mod schedule;

//! `cargo bench`: loa's hot paths over realistic inputs (benches/README.md). Each module is
//! one group; `cargo bench -- phone` runs one group.

use criterion::{criterion_group, criterion_main};

mod condition;
mod csv;
mod fixture;
mod phone;
mod render;
mod schedule;

criterion_group!(
    benches,
    schedule::bench,
    condition::bench,
    render::bench,
    phone::bench,
    csv::bench
);
criterion_main!(benches);

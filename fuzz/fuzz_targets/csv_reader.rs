//! The audience CSV reader: any bytes as a data file, opened through `CsvSource::open` (the
//! entry point `loa` uses) with every column type declared on the columns the header names,
//! and every record read. Errors are expected answers; a panic or a hang is a finding.

#![no_main]

#[path = "common.rs"]
mod common;

use std::collections::HashMap;

use libfuzzer_sys::fuzz_target;
use loa::audience::{ColumnType, CsvSource};

const TYPES: [(&str, ColumnType); 7] = [
    ("name", ColumnType::Text),
    ("grade", ColumnType::Integer),
    ("score", ColumnType::Decimal),
    ("insured", ColumnType::Bool),
    ("dob", ColumnType::Date),
    ("phone", ColumnType::Phone),
    ("email", ColumnType::Email),
];

fuzz_target!(|data: &[u8]| {
    let file = common::scratch().join("audience.csv");
    common::write(&file, data);
    // Once without declared types, once with those whose column the file has.
    let Ok(source) = CsvSource::open(&file, &HashMap::new()) else {
        return;
    };
    let headers: Vec<String> = source.headers().to_vec();
    let mut rows = 0usize;
    for record in source {
        let _ = record;
        rows += 1;
    }
    let columns: HashMap<String, ColumnType> = TYPES
        .iter()
        .filter(|(name, _)| headers.iter().any(|h| h == name))
        .map(|(name, ty)| (name.to_string(), *ty))
        .collect();
    let Ok(typed) = CsvSource::open(&file, &columns) else {
        return;
    };
    // Typing cells never changes how many records there are.
    assert_eq!(typed.count(), rows);
});

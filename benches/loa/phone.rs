//! Vietnamese phone normalisation (`loa::audience::phone::normalize`), which every phone cell
//! of an audience goes through: the spellings found in school spreadsheets, and numbers it
//! refuses (each refusal builds an error that keeps the raw value for the report).

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use loa::audience::phone::normalize;

/// Numbers accepted, each becoming `84` and nine digits.
const VALID: [&str; 10] = [
    "0912345678",
    "0912 345 678",
    "0912.345.678",
    "0912-345-678",
    "+84 912 345 678",
    "(+84) 912.345.678",
    "84912345678",
    "0084912345678",
    "912345678",
    "01662345678",
];

/// Numbers refused: a landline, Excel's scientific notation, a digit short, a digit too
/// many, letters, not a mobile prefix, an empty cell.
const INVALID: [&str; 7] = [
    "028 3829 1234",
    "8.49E+10",
    "091234567",
    "09123456789",
    "0912 ABC 678",
    "0112345678",
    "  ",
];

pub(crate) fn bench(c: &mut Criterion) {
    for raw in VALID {
        assert!(normalize(raw).is_ok(), "{raw} is valid");
    }
    for raw in INVALID {
        assert!(normalize(raw).is_err(), "{raw} is invalid");
    }
    let mut g = c.benchmark_group("phone");
    for (id, inputs) in [("valid", &VALID[..]), ("invalid", &INVALID[..])] {
        g.throughput(Throughput::Elements(inputs.len() as u64));
        g.bench_function(id, |b| {
            b.iter(|| {
                for raw in inputs {
                    let _ = black_box(normalize(black_box(raw)));
                }
            })
        });
    }
    g.finish();
}

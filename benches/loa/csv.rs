//! CSV reading: the generated students file (10,000 rows, UTF-8 BOM, Vietnamese names with
//! diacritics) opened with `CsvSource::open`, as every audience is read, with the column
//! types the example campaign declares for it (`grade: integer`, `insured: bool`; the other
//! columns typed by their look), every record read. Once with the text precomposed (NFC, as
//! most spreadsheets save it) and once decomposed (NFD), which the reader recomposes cell by
//! cell.

use std::hint::black_box;

use criterion::{Criterion, Throughput};
use loa::audience::CsvSource;

use crate::fixture::{STUDENTS, fixture};

pub(crate) fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("csv");
    g.sample_size(20);
    for (id, nfd) in [
        ("students_10000_rows", false),
        ("students_10000_rows_nfd", true),
    ] {
        let f = fixture();
        let path = if nfd { &f.students_nfd } else { &f.students };
        let columns = &f.campaign().audiences["parents"].columns;
        let bytes = std::fs::metadata(path).expect("the students file").len();
        g.throughput(Throughput::Bytes(bytes));
        g.bench_function(id, |b| {
            b.iter(|| {
                let source = CsvSource::open(path, columns).expect("the students file");
                let mut rows = 0;
                for record in source {
                    black_box(record.expect("a readable row"));
                    rows += 1;
                }
                assert_eq!(rows, STUDENTS);
            })
        });
    }
    g.finish();
}

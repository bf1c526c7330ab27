//! `where` evaluation: the grade-1 step's `row.grade == 1 and not row.insured` of the example
//! campaign, compiled when the workspace loads and evaluated per row as the selection does
//! (`campaign::select`: the context holds only the names the condition reads, here `row`).
//! The rows are the first [`ROWS`] of the generated students file, typed as the campaign
//! declares (`grade: integer`, `insured: bool`).

use std::hint::black_box;
use std::sync::OnceLock;

use criterion::{Criterion, Throughput};
use loa::audience::CsvSource;
use serde_json::{Map, Value};

use crate::fixture::fixture;

const ROWS: usize = 1_000;
const STEP: &str = "grade1-transition";

pub(crate) fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("where");
    g.throughput(Throughput::Elements(ROWS as u64));
    // The context built beforehand: the expression alone.
    g.bench_function("grade1_not_insured", |b| {
        static CONTEXTS: OnceLock<Vec<tera::Context>> = OnceLock::new();
        let (id, rows) = rows();
        let contexts = CONTEXTS.get_or_init(|| rows.iter().map(context).collect());
        let renderer = &fixture().workspace.renderer;
        b.iter(|| {
            contexts
                .iter()
                .filter(|ctx| renderer.eval_expression(id, ctx).expect("a boolean"))
                .count()
        })
    });
    // Per row, what the selection does: copy the row into a context, then evaluate.
    g.bench_function("grade1_not_insured_with_context", |b| {
        let (id, rows) = rows();
        let renderer = &fixture().workspace.renderer;
        b.iter(|| {
            rows.iter()
                .filter(|row| {
                    let ctx = context(black_box(row));
                    renderer.eval_expression(id, &ctx).expect("a boolean")
                })
                .count()
        })
    });
    g.finish();
}

/// The step's expression id and the rows, checked to be a mix of selected and not; read
/// once (criterion calls a benchmark's closure once per sample).
fn rows() -> &'static (String, Vec<Map<String, Value>>) {
    static ROWS_OF: OnceLock<(String, Vec<Map<String, Value>>)> = OnceLock::new();
    ROWS_OF.get_or_init(read_rows)
}

fn read_rows() -> (String, Vec<Map<String, Value>>) {
    let f = fixture();
    let campaign = f.campaign();
    let step = campaign.step(STEP).expect("the grade-1 step");
    let columns = &campaign.audiences[&step.audience].columns;
    let rows: Vec<_> = CsvSource::open(&f.students, columns)
        .expect("the students file")
        .take(ROWS)
        .map(|r| r.expect("a readable row").row)
        .collect();
    let id = step.condition_id(&campaign.id);
    let renderer = &f.workspace.renderer;
    let selected = rows
        .iter()
        .filter(|row| {
            renderer
                .eval_expression(&id, &context(row))
                .expect("a boolean")
        })
        .count();
    assert!(0 < selected && selected < rows.len(), "{selected} selected");
    (id, rows)
}

/// What a `where` that reads only `row` sees.
fn context(row: &Map<String, Value>) -> tera::Context {
    let mut map = Map::new();
    map.insert("row".into(), Value::Object(row.clone()));
    tera::Context::from_value(Value::Object(map)).expect("an object")
}

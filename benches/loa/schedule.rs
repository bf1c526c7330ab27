//! Schedule expansion: a step's `send` over the campaign period, moved out of quiet hours
//! (21:00–07:00) and off the skip dates (31/8–2/9) of the example campaign, bounded by its
//! windows and `max` — what `loa plan`, the daemon's enqueue and the dashboard's timeline
//! compute for every step (`Campaign::send_times`).

use std::hint::black_box;

use criterion::{Criterion, Throughput};

use crate::fixture::fixture;

pub(crate) fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("schedule");
    g.bench_function("example_campaign_7_steps", |b| {
        let campaign = fixture().campaign();
        let steps: Vec<_> = campaign
            .steps
            .iter()
            .filter(|s| !s.id.starts_with("bench-"))
            .collect();
        assert_eq!(steps.len(), 7, "the example campaign's steps");
        b.iter(|| {
            for step in &steps {
                black_box(campaign.send_times(step).expect("occurrences"));
            }
        })
    });
    // Throughput counts the trigger times the cron pattern names in the period.
    for (id, step, triggers, kept) in [
        // 153 evenings at 21:30, each moved to 07:00 the next morning; those landing on the
        // skip dates move on to 3/9 and fold into one, the last leaves the period: 149 kept.
        ("nightly_cron_in_quiet_hours", "bench-nightly", 153, 149),
        // 153 × 24 hours; the night's move to 07:00 and fold into it, the skip dates' go:
        // 150 days × 14 hours (07:00 to 20:00) kept.
        ("hourly_cron", "bench-hourly", 153 * 24, 150 * 14),
    ] {
        g.throughput(Throughput::Elements(triggers));
        g.bench_function(id, |b| {
            let campaign = fixture().campaign();
            let step = campaign.step(step).expect("the bench step");
            let times = campaign.send_times(step).expect("occurrences");
            assert_eq!(times.len(), kept, "{id}: send times kept");
            b.iter(|| black_box(campaign.send_times(step).expect("occurrences")))
        });
    }
    g.finish();
}

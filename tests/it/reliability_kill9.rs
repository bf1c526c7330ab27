//! R1 (docs/reliability.md#r1): crash consistency under `kill -9`. A campaign of 10,000
//! recipients is sent by the real daemon to the real SMTP sink while the test SIGKILLs it five
//! times at seeded random moments, reads the leased set (`sending` rows) from the SQLite file
//! right after each kill, and restarts it. A Jepsen total-queue checker then compares the
//! expected ids (the rows), the sink's receipts and the final states: nothing lost, nothing
//! unexpected, every duplicate leased at some kill, every `sent` row received.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use crate::support::campaign::CampaignBuilder;
use crate::support::daemon::{Daemon, Tuning, log_tail, until};
use crate::support::smtp_sink::SmtpSink;
use crate::support::{Rng, ledger, seed};

const N: usize = 10_000;
const KILLS: usize = 5;
const CONCURRENCY: usize = 8;

/// The channel's leases at most: a kill duplicates at most these many messages (the bound
/// L_k <= W of docs/reliability.md#rule-3).
const WINDOW: usize = CONCURRENCY * loa::dispatch::LEASES_PER_SEND;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_at_random_moments_loses_nothing_and_duplicates_only_leased_messages() {
    let seed = seed();
    println!("R1: seed {seed} (LOA_TEST_SEED={seed} replays the kill moments)");
    let mut rng = Rng::new(seed);
    let started = Instant::now();
    let sink = SmtpSink::start().await;
    let ws = CampaignBuilder::new(N)
        .smtp(
            "mail",
            &sink.url(),
            &[&format!("concurrency: {CONCURRENCY}")],
        )
        .step("s1", &["mail"])
        .build();
    let db = ws.db();
    let tuning = Tuning::default();

    // Kill when the sink has seen these many messages: uniform over the send.
    let mut moments: Vec<usize> = (0..KILLS)
        .map(|_| ((0.05 + 0.9 * rng.unit()) * N as f64) as usize)
        .collect();
    moments.sort_unstable();
    let mut leased_sets: Vec<Vec<String>> = Vec::new();
    let mut rate_before_first_kill = 0.0;
    let mut open_at_last_kill = 0;
    let mut daemon = Daemon::start(&ws, &tuning, None);
    for (k, &at) in moments.iter().enumerate() {
        let reached = until(
            Duration::from_secs(120),
            Duration::from_millis(1),
            || async { sink.received_count() >= at },
        )
        .await;
        assert!(
            reached,
            "kill {k}: stuck before {at}:\n{}",
            log_tail(&ws, 30)
        );
        daemon.kill();
        if k == 0 {
            let first = sink
                .received()
                .iter()
                .map(|r| r.at)
                .min()
                .expect("a receipt");
            rate_before_first_kill = sink.received_count() as f64 / first.elapsed().as_secs_f64();
        }
        open_at_last_kill = ledger::open(&db).await;
        // L_k: the leases the killed process held. Leases of earlier kills may still be
        // waiting for rescue; they are in their own L already.
        let owner = daemon.owner_prefix();
        let leased: Vec<String> = ledger::leased(&db)
            .await
            .into_iter()
            .filter(|(_, o)| o.starts_with(&owner))
            .map(|(id, _)| id)
            .collect();
        println!(
            "R1 kill {}: after {} receipts ({:.1} s); leased L = {}",
            k + 1,
            sink.received_count(),
            started.elapsed().as_secs_f64(),
            leased.len()
        );
        leased_sets.push(leased);
        daemon = Daemon::start(&ws, &tuning, None);
    }
    let restarted = Instant::now();
    let done = until(
        Duration::from_secs(240),
        Duration::from_millis(50),
        || async { ledger::open(&db).await == 0 },
    )
    .await;
    let done_after = restarted.elapsed();
    drop(daemon);
    assert!(done, "rows still open:\n{}", log_tail(&ws, 40));

    // The checker.
    let rows = ledger::messages(&db).await;
    let expected: HashSet<&str> = rows.iter().map(|m| m.message_id.as_str()).collect();
    assert_eq!(
        (rows.len(), expected.len()),
        (N, N),
        "one row per recipient"
    );
    let mut receipts: HashMap<String, Vec<Instant>> = HashMap::new();
    for r in sink.received() {
        let id = r.loa_id().expect("every message carries X-Loa-Message");
        receipts.entry(id).or_default().push(r.at);
    }
    let leased_any: HashSet<&str> = leased_sets.iter().flatten().map(String::as_str).collect();
    let lost: Vec<&str> = rows
        .iter()
        .filter(|m| m.state != "sent" || !receipts.contains_key(&m.message_id))
        .map(|m| m.message_id.as_str())
        .collect();
    let unexpected: Vec<&String> = receipts
        .keys()
        .filter(|id| !expected.contains(id.as_str()))
        .collect();
    let duplicated: Vec<(&String, usize)> = receipts
        .iter()
        .filter(|(_, at)| at.len() > 1)
        .map(|(id, at)| (id, at.len()))
        .collect();
    let unleased_duplicates: Vec<_> = duplicated
        .iter()
        .filter(|(id, _)| !leased_any.contains(id.as_str()))
        .collect();
    let extra_copies: usize = duplicated.iter().map(|(_, n)| n - 1).sum();
    let sizes: Vec<usize> = leased_sets.iter().map(Vec::len).collect();
    let leased_sum: usize = sizes.iter().sum();

    // Liveness after the last restart: rows leased at the last kill wait out their lease,
    // then the next round rescues them (plan: lease + 2 polls). Sending what was open takes
    // time too, at no less than half the rate seen before the first kill.
    let last_fresh = sink
        .received()
        .iter()
        .filter(|r| r.at > restarted)
        .filter(|r| !leased_any.contains(r.loa_id().unwrap_or_default().as_str()))
        .map(|r| r.at.duration_since(restarted))
        .max()
        .unwrap_or_default();
    let lease = tuning.lease_secs();
    let poll = tuning.poll_secs();
    let sending = open_at_last_kill as f64 / (0.5 * rate_before_first_kill);
    let bound = last_fresh.as_secs_f64().max(lease) + 2.0 * poll + sending;

    println!(
        "R1 N={N} K={KILLS} C={CONCURRENCY} W={WINDOW}: lost {}, unexpected {}, duplicated ids {} \
         ({extra_copies} extra copies), all leased: {}; L_k = {sizes:?}, sum {leased_sum}, \
         union {}; {open_at_last_kill} open at the last kill, all terminal {:.2} s after the \
         last restart (fresh work until {:.2} s; bound {bound:.2} s = max(fresh, lease {lease} s) \
         + 2 polls + open / half of {rate_before_first_kill:.0} msg/s); {:.1} s in all",
        lost.len(),
        unexpected.len(),
        duplicated.len(),
        unleased_duplicates.is_empty(),
        leased_any.len(),
        done_after.as_secs_f64(),
        last_fresh.as_secs_f64(),
        started.elapsed().as_secs_f64(),
    );
    assert!(lost.is_empty(), "lost: {:?}", &lost[..lost.len().min(10)]);
    assert!(unexpected.is_empty(), "unexpected: {unexpected:?}");
    assert!(
        unleased_duplicates.is_empty(),
        "duplicates never leased at a kill: {unleased_duplicates:?}"
    );
    assert!(extra_copies <= leased_sum);
    // The bound of docs/reliability.md#rule-3: a channel holds at most W leases.
    assert!(
        sizes.iter().all(|&l| l <= WINDOW),
        "a leased set larger than the lease window {WINDOW}: {sizes:?}"
    );
    assert!(
        done_after.as_secs_f64() <= bound,
        "rows terminal {:.2} s after the last restart, bound {bound:.2} s",
        done_after.as_secs_f64()
    );
}

//! Measures how fast the message ledger takes an expanded occurrence.
//!
//! ```text
//! cargo run --release --example bench_enqueue -- 2000000 /tmp/loa-bench.db
//! ```
//!
//! Inserts N pending messages (default 2,000,000; each with a ~200-byte JSON context, as
//! expansion snapshots a student's row and school) through `Store::insert_messages` in
//! batches of 10,000, into a fresh SQLite file (default `/tmp/loa-bench.db`, removed
//! first), then prints elapsed time and rows per second. Building the rows is not timed.

use std::error::Error;
use std::time::{Duration, Instant};

use loa::store::{CampaignRow, NewMessage, NewState, Store, message_tag};

const BATCH: usize = 10_000;
/// 2026-09-07 08:00 +07:00.
const AT: i64 = 1_788_742_800_000;
const DAY: i64 = 86_400_000;

#[tokio::main]
async fn main() -> Result<(), Box<dyn Error>> {
    let mut args = std::env::args().skip(1);
    let n: usize = match args.next() {
        Some(n) => n.parse()?,
        None => 2_000_000,
    };
    let path = args
        .next()
        .unwrap_or_else(|| "/tmp/loa-bench.db".to_owned());
    for suffix in ["", "-wal", "-shm"] {
        let _ = std::fs::remove_file(format!("{path}{suffix}"));
    }

    let store = Store::open(&format!("sqlite://{path}")).await?;
    store
        .upsert_campaign(&CampaignRow {
            id: "bhyt-hssv-2026-2027".into(),
            title: "BHYT học sinh, sinh viên 2026-2027".into(),
            status: "active".into(),
            content_hash: "bench".into(),
            file: "campaigns/bhyt-hssv-2026-2027.yaml".into(),
        })
        .await?;
    let occ = store
        .occurrence("bhyt-hssv-2026-2027", "parent-notice", 0, AT)
        .await?;

    let mut inserting = Duration::ZERO;
    let mut inserted = 0;
    let total = Instant::now();
    for start in (0..n).step_by(BATCH) {
        let rows: Vec<NewMessage> = (start..n.min(start + BATCH))
            .map(|i| row(&occ, i))
            .collect();
        let t = Instant::now();
        inserted += store.insert_messages(&rows, AT).await?;
        inserting += t.elapsed();
    }
    store.mark_enqueued(occ.id, AT).await?;
    store.close().await;
    let wall = total.elapsed();

    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    println!("rows inserted: {inserted} of {n}, batches of {BATCH}");
    println!(
        "insert_messages: {:.2} s, {:.0} rows/s",
        inserting.as_secs_f64(),
        inserted as f64 / inserting.as_secs_f64()
    );
    println!(
        "wall (incl. building rows, final checkpoint): {:.2} s, {:.0} rows/s",
        wall.as_secs_f64(),
        inserted as f64 / wall.as_secs_f64()
    );
    println!("database file: {path}, {:.0} MiB", bytes as f64 / 1048576.0);
    Ok(())
}

/// The i-th student's message, with a context shaped like expansion's snapshot.
fn row(occ: &loa::store::OccurrenceRow, i: usize) -> NewMessage {
    let recipient = format!("HS{i:08}");
    let context = format!(
        r#"{{"row":{{"student_id":"{recipient}","full_name":"Nguyễn Văn An","school_id":"TH-{school:03}","class":"5A","dob":"2016-03-14","parent_phone":"849{phone:08}","insured":false}},"school":{{"name":"Trường Tiểu học số {school}"}}}}"#,
        school = i % 500,
        phone = i % 100_000_000,
    );
    NewMessage {
        tag: message_tag(&occ.campaign, &occ.step, occ.n, &recipient, "zalo"),
        campaign: occ.campaign.clone(),
        step: occ.step.clone(),
        occurrence_id: occ.id,
        occurrence_at: occ.at,
        occurrence_n: occ.n,
        address: Some(format!("849{:08}", i % 100_000_000)),
        recipient,
        channel: "zalo".into(),
        fallback_of: None,
        state: NewState::Pending,
        next_attempt_at: occ.at,
        expires_at: occ.at + 7 * DAY,
        context,
    }
}

//! Turning due occurrences into message rows (docs/campaign-file.md#where: `where` is evaluated
//! when an occurrence is enqueued, on the data as it is then).
//!
//! Every message is a row before it is sent. Expansion streams the audience on a blocking
//! thread and hands bounded batches to the inserter, so memory does not grow with the
//! audience. Inserts are idempotent (UNIQUE key, `ON CONFLICT DO NOTHING`); the occurrence is
//! marked enqueued only after its last batch, so a crash half-way simply runs it again.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use anyhow::{Context as _, Result, bail};
use chrono::{DateTime, NaiveTime, TimeZone, Utc};
use tokio::sync::mpsc;

use crate::audience::recipients::Recipient;
use crate::campaign::context::{Shared, snapshot};
use crate::campaign::select::{Candidate, Candidates, KeyUse, RowsOf, Where, address, joins};
use crate::campaign::{Campaign, Step, Workspace};
use crate::schedule::{self, Occurrence};
use crate::store::{Millis, NewMessage, NewState, Store, message_tag};

/// Rows inserted per transaction. Each row is held on its way to the ledger (about a
/// kilobyte with its data snapshot), in the batch being filled, the one waiting and the one
/// being written: over 2,000,000 students the daemon's enqueue peaked at 117–129 MiB with
/// 10,000 rows a batch and at 98 MiB with 2,000, no slower (paired runs on a busy 2-core
/// machine, 2026-12-07: 62,873 and 34,829 rows/s with 2,000; 57,956 and 40,842 with 10,000).
pub const BATCH: usize = 2_000;

/// Rows per transaction in this process: [`BATCH`] unless `loa run --enqueue-batch` set it
/// (the reliability tests make an occurrence span several batches to crash half-way,
/// docs/reliability.md#r2).
static BATCH_ROWS: AtomicUsize = AtomicUsize::new(BATCH);

/// Sets the rows inserted per transaction for the rest of the process (at least 1).
pub(crate) fn set_batch_rows(rows: usize) {
    BATCH_ROWS.store(rows.max(1), Ordering::Relaxed);
}

#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct EnqueueStats {
    pub occurrences: u64,
    pub inserted: u64,
    pub missed: u64,
}

/// Enqueues every occurrence of `campaign` that is due at `now` (and not before
/// `not_before`) and not yet enqueued. An occurrence first seen more than `grace` after its
/// time is recorded as missed and sends nothing (docs/reliability.md#r9: a daemon that was down
/// does not fire old reminders on its own). Of several occurrences of one step first seen
/// together (a `*/5` cron after the daemon was down for an hour) only the latest is sent, as
/// cron does; the earlier ones are recorded as missed.
pub async fn enqueue_due(
    store: &Store,
    ws: &Arc<Workspace>,
    campaign: usize,
    now: DateTime<Utc>,
    not_before: Option<DateTime<Utc>>,
    grace: Duration,
) -> Result<EnqueueStats> {
    let c = &ws.campaigns[campaign];
    let mut stats = EnqueueStats::default();
    for (step_index, step) in c.steps.iter().enumerate() {
        let occ = schedule::occurrences(&c.calendar, &step.schedule)
            .with_context(|| format!("step {}", step.id))?;
        let due: Vec<&Occurrence> = occ
            .kept
            .iter()
            .filter(|o| o.at <= now && not_before.is_none_or(|nb| o.at >= nb))
            .collect();
        let latest = due.iter().map(|o| o.at).max();
        for o in due {
            let due = Due {
                campaign,
                step: step_index,
                occurrence: o,
                superseded: Some(o.at) != latest,
            };
            enqueue_occurrence(store, ws, &due, now, grace, &mut stats).await?;
        }
    }
    Ok(stats)
}

/// One due occurrence of a step, and whether a later one of the same step is due too.
struct Due<'a> {
    campaign: usize,
    step: usize,
    occurrence: &'a Occurrence,
    superseded: bool,
}

/// Enqueues one due occurrence, or records it missed when it was first seen too late or is
/// superseded; does nothing for one already enqueued or missed.
async fn enqueue_occurrence(
    store: &Store,
    ws: &Arc<Workspace>,
    due: &Due<'_>,
    now: DateTime<Utc>,
    grace: Duration,
    stats: &mut EnqueueStats,
) -> Result<()> {
    let c = &ws.campaigns[due.campaign];
    let step = &c.steps[due.step];
    let o = due.occurrence;
    let existing = store.find_occurrence(&c.id, &step.id, o.n).await?;
    if existing
        .as_ref()
        .is_some_and(|r| r.enqueued_at.is_some() || r.missed_at.is_some())
    {
        return Ok(());
    }
    let row = store
        .occurrence(&c.id, &step.id, o.n, o.at.timestamp_millis())
        .await?;
    let late = now.signed_duration_since(o.at).to_std().unwrap_or_default();
    // An occurrence already begun (a crash half-way through its expansion) is finished
    // whatever its age: some of its messages are in the ledger.
    if existing.is_none() && (late > grace || due.superseded) {
        store.mark_missed(row.id, now.timestamp_millis()).await?;
        stats.missed += 1;
        return Ok(());
    }
    let now_ms = now.timestamp_millis();
    stats.inserted += expand(store, ws, due.campaign, due.step, o, row.id, now_ms).await?;
    store.mark_enqueued(row.id, now_ms).await?;
    stats.occurrences += 1;
    Ok(())
}

/// The end of the step's window, as UTC milliseconds: after it a pending message expires.
pub fn expires_at(c: &Campaign, step: &Step) -> Millis {
    let end = step
        .schedule
        .window
        .end
        .succ_opt()
        .unwrap_or(step.schedule.window.end);
    let local = end.and_time(NaiveTime::MIN);
    c.calendar
        .tz
        .from_local_datetime(&local)
        .earliest()
        .map(|t| t.timestamp_millis())
        .unwrap_or(Millis::MAX)
}

async fn expand(
    store: &Store,
    ws: &Arc<Workspace>,
    campaign: usize,
    step: usize,
    o: &Occurrence,
    occurrence_id: i64,
    now: Millis,
) -> Result<u64> {
    // One batch waits while one is written and the next is filled: a second waiting batch
    // (the capacity was 2) only held more rows (peak RSS 129 MiB instead of 140–147 over
    // 2,000,000 students) and did not make the enqueue faster.
    let (tx, mut rx) = mpsc::channel::<Vec<NewMessage>>(1);
    let ws2 = Arc::clone(ws);
    let o = o.clone();
    let producer = tokio::task::spawn_blocking(move || {
        produce(&ws2, campaign, step, &o, occurrence_id, now, &tx)
    });
    let mut inserted = 0;
    while let Some(batch) = rx.recv().await {
        inserted += store.insert_messages(&batch, now).await?;
        super::failpoint::hit(super::failpoint::Point::MidEnqueue);
    }
    producer.await.context("expansion thread")??;
    Ok(inserted)
}

/// Streams the audience through the selection pipeline and sends batches of rows; runs on
/// a blocking thread.
fn produce(
    ws: &Workspace,
    campaign: usize,
    step: usize,
    o: &Occurrence,
    occurrence_id: i64,
    now: Millis,
    tx: &mpsc::Sender<Vec<NewMessage>>,
) -> Result<()> {
    let c = &ws.campaigns[campaign];
    let s = &c.steps[step];
    let shared = Shared::for_where(c, s, o.at, o.n);
    let condition = Where::new(ws.renderer_of(&c.id), c, s);
    let joined = joins(c, &s.audience)?;
    let mut candidates = Candidates::open(c, &s.audience, &joined)?;
    let mut out = Batches {
        base: Base {
            campaign: c,
            step: s,
            occurrence_id,
            at: o.at.timestamp_millis(),
            n: o.n,
            now,
            expires: expires_at(c, s),
        },
        rows_of: RowsOf::new(c, &s.audience),
        rows: BATCH_ROWS.load(Ordering::Relaxed),
        batch: Vec::new(),
        unusable: 0,
        tx,
    };
    while let Some(candidate) = candidates.next() {
        let open = match candidate {
            Candidate::Unreadable(e) if candidates.stopped() => {
                bail!("{}: {e}", out.rows_of.source.display())
            }
            Candidate::Unreadable(e) => out.unreadable(&e),
            Candidate::Row(r, key) if condition.selects(&shared, &r)? => out.selected(&r, key),
            Candidate::Row(..) => true,
        };
        if !open {
            return Ok(());
        }
    }
    out.finish();
    Ok(())
}

/// The rows of one occurrence on their way to the inserter, in batches.
struct Batches<'a> {
    base: Base<'a>,
    rows_of: RowsOf<'a>,
    /// Rows per batch.
    rows: usize,
    batch: Vec<NewMessage>,
    /// Data rows that became skipped messages: unreadable, or an empty or repeated key.
    unusable: u64,
    tx: &'a mpsc::Sender<Vec<NewMessage>>,
}

impl Batches<'_> {
    /// An unreadable row: one skipped message per channel. Returns whether the inserter
    /// still listens.
    fn unreadable(&mut self, e: &crate::audience::RowError) -> bool {
        self.unusable += 1;
        let (id, reason) = (self.rows_of.id(e.line), self.rows_of.reason(e));
        self.base.unusable(&id, &reason, &mut self.batch);
        self.flush_full()
    }

    /// A row the step's `where` selected: its messages, or skipped ones for its key.
    fn selected(&mut self, r: &Recipient, key: KeyUse) -> bool {
        match self.rows_of.key_reason(r.line, key) {
            None => self.base.rows(r, &mut self.batch),
            Some(reason) => {
                self.unusable += 1;
                let id = self.rows_of.id(r.line);
                self.base.unusable(&id, &reason, &mut self.batch);
            }
        }
        self.flush_full()
    }

    /// Sends the batch once it is full; false when the inserter has gone (it failed).
    fn flush_full(&mut self) -> bool {
        self.batch.len() < self.rows
            || self
                .tx
                .blocking_send(std::mem::take(&mut self.batch))
                .is_ok()
    }

    /// Sends the last batch and says how many rows could not be used.
    fn finish(mut self) {
        if self.unusable > 0 {
            tracing::warn!(
                campaign = %self.base.campaign.id,
                step = %self.base.step.id,
                file = %self.rows_of.source.display(),
                rows = self.unusable,
                "rows of the audience file cannot be used; each is recorded as a skipped message (see `loa validate`)"
            );
        }
        if !self.batch.is_empty() {
            let _ = self.tx.blocking_send(std::mem::take(&mut self.batch));
        }
    }
}

struct Base<'a> {
    campaign: &'a Campaign,
    step: &'a Step,
    occurrence_id: i64,
    at: Millis,
    n: u32,
    now: Millis,
    expires: Millis,
}

impl Base<'_> {
    /// One row per channel of the step; a channel without an address becomes `skipped`.
    /// The fallback channel (if any) gets a row now only when no channel has an address;
    /// otherwise the ledger decides once the sends have ended
    /// ([`crate::store::Store::record_with_fallbacks`]).
    fn rows(&self, r: &Recipient, out: &mut Vec<NewMessage>) {
        let context = snapshot(r);
        let mut need_fallback = true;
        for name in &self.step.channels {
            let Some(ch) = self.campaign.channels.get(name) else {
                continue;
            };
            match address(self.step, ch, r) {
                Ok(a) => {
                    out.push(self.row(r, name, Some(a), NewState::Pending, &context));
                    need_fallback = false;
                }
                Err(reason) => {
                    out.push(self.row(r, name, None, NewState::Skipped { reason }, &context));
                }
            }
        }
        if need_fallback
            && let Some(f) = &self.step.fallback
            && let Some(ch) = self.campaign.channels.get(f)
        {
            let row = match address(self.step, ch, r) {
                Ok(a) => self.row(r, f, Some(a), NewState::Pending, &context),
                Err(reason) => self.row(r, f, None, NewState::Skipped { reason }, &context),
            };
            out.push(row);
        }
    }

    /// One skipped row per channel of the step for a data row that cannot be a recipient
    /// (issue 14 item 7): unreadable, a duplicate or empty key. It has no address and no
    /// data, and no fallback: there is nobody to fall back for.
    fn unusable(&self, recipient: &str, reason: &str, out: &mut Vec<NewMessage>) {
        for channel in &self.step.channels {
            out.push(NewMessage {
                tag: message_tag(&self.campaign.id, &self.step.id, self.n, recipient, channel),
                campaign: self.campaign.id.clone(),
                step: self.step.id.clone(),
                occurrence_id: self.occurrence_id,
                occurrence_at: self.at,
                occurrence_n: self.n,
                recipient: recipient.to_string(),
                channel: channel.clone(),
                fallback_of: None,
                address: None,
                state: NewState::Skipped {
                    reason: reason.to_string(),
                },
                next_attempt_at: self.now.max(self.at),
                expires_at: self.expires,
                context: "{}".to_string(),
            });
        }
    }

    fn row(
        &self,
        r: &Recipient,
        channel: &str,
        address: Option<String>,
        state: NewState,
        context: &str,
    ) -> NewMessage {
        NewMessage {
            tag: message_tag(&self.campaign.id, &self.step.id, self.n, &r.key, channel),
            campaign: self.campaign.id.clone(),
            step: self.step.id.clone(),
            occurrence_id: self.occurrence_id,
            occurrence_at: self.at,
            occurrence_n: self.n,
            recipient: r.key.clone(),
            channel: channel.to_string(),
            fallback_of: None,
            address,
            state,
            next_attempt_at: self.now.max(self.at),
            expires_at: self.expires,
            context: context.to_string(),
        }
    }
}

/// R9 (docs/reliability.md#r9): scheduling and time zones, on a real SQLite ledger with fixed
/// instants.
#[cfg(test)]
mod tests {
    use std::path::Path;

    use chrono::TimeZone as _;

    use super::*;
    use crate::campaign::{DataScan, EnvPolicy, LoadOptions};

    const HOUR: Duration = Duration::from_secs(3600);

    /// A workspace of one campaign in `tz` with three recipients and one step per `send`.
    fn workspace(dir: &Path, tz: &str, sends: &[&str]) -> (Option<Workspace>, Vec<String>) {
        crate::campaign::test_support::three_people_and_a_note(dir);
        let steps: String = sends
            .iter()
            .enumerate()
            .map(|(i, send)| {
                format!(
                    "  - id: s{i}\n    audience: people\n    channel: mail\n    \
                     template: note\n    send: {send}\n"
                )
            })
            .collect();
        let yaml = format!(
            "campaign: r9\ntitle: R9\nstatus: active\ntimezone: {tz}\n\
             period: {{ start: 2026-03-01, end: 2026-12-31 }}\n\
             audiences:\n  people:\n    source: data/people.csv\n    key: id\n\
             channels:\n  mail:\n    type: smtp\n    url: \"smtp://127.0.0.1:2525\"\n    \
             from: \"Loa <loa@example.test>\"\nsteps:\n{steps}"
        );
        std::fs::write(dir.join("campaigns/r9.yaml"), yaml).unwrap();
        let opts = LoadOptions {
            env: EnvPolicy::Optional,
            data: DataScan::Headers,
        };
        let (ws, diags) = Workspace::load(&[dir.join("campaigns")], &dir.join("templates"), opts);
        let errors = diags
            .0
            .iter()
            .filter(|d| d.severity == crate::campaign::diagnostic::Severity::Error)
            .map(|d| d.to_string())
            .collect();
        (ws, errors)
    }

    async fn ledger(dir: &Path, ws: &Workspace) -> Store {
        let url = format!("sqlite://{}", dir.join("loa.db").display());
        let store = Store::open(&url).await.unwrap();
        crate::dispatch::register::register(&store, ws)
            .await
            .unwrap();
        store
    }

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    async fn rows(store: &Store) -> i64 {
        sqlx::query_scalar("SELECT COUNT(*) FROM message")
            .fetch_one(store.pool())
            .await
            .unwrap()
    }

    #[tokio::test]
    async fn seven_oclock_in_ho_chi_minh_city_falls_due_at_midnight_utc() {
        let dir = tempfile::tempdir().unwrap();
        let (ws, errors) = workspace(
            dir.path(),
            "Asia/Ho_Chi_Minh",
            &[r#"{ at: "2026-09-07 07:00" }"#],
        );
        assert_eq!(errors, Vec::<String>::new());
        let ws = Arc::new(ws.unwrap());
        let store = ledger(dir.path(), &ws).await;
        let midnight = utc(2026, 9, 7, 0, 0);
        let before = midnight - chrono::Duration::milliseconds(1);
        let early = enqueue_due(&store, &ws, 0, before, None, HOUR)
            .await
            .unwrap();
        assert_eq!(early, EnqueueStats::default(), "nothing before 00:00 UTC");
        let on_time = enqueue_due(&store, &ws, 0, midnight, None, HOUR)
            .await
            .unwrap();
        assert_eq!((on_time.occurrences, on_time.inserted), (1, 3));
        let at: Millis = sqlx::query_scalar("SELECT at FROM occurrence")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(at, midnight.timestamp_millis());
    }

    #[tokio::test]
    async fn a_daemon_down_from_0650_to_0900_records_the_0700_send_missed_and_inserts_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (ws, _) = workspace(
            dir.path(),
            "Asia/Ho_Chi_Minh",
            &[r#"{ at: "2026-09-07 07:00" }"#],
        );
        let ws = Arc::new(ws.unwrap());
        let store = ledger(dir.path(), &ws).await;
        // Up at 06:50 local (23:50 UTC): nothing due yet. Down until 09:00 (02:00 UTC).
        let up = enqueue_due(&store, &ws, 0, utc(2026, 9, 6, 23, 50), None, HOUR).await;
        assert_eq!(up.unwrap(), EnqueueStats::default());
        let back = enqueue_due(&store, &ws, 0, utc(2026, 9, 7, 2, 0), None, HOUR).await;
        assert_eq!(back.unwrap().missed, 1);
        let later = enqueue_due(&store, &ws, 0, utc(2026, 9, 7, 3, 0), None, HOUR).await;
        assert_eq!(
            later.unwrap(),
            EnqueueStats::default(),
            "missed stays missed"
        );
        assert_eq!(rows(&store).await, 0);
        let missed: Option<Millis> = sqlx::query_scalar("SELECT missed_at FROM occurrence")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(missed, Some(utc(2026, 9, 7, 2, 0).timestamp_millis()));
    }

    #[tokio::test]
    async fn a_send_first_seen_exactly_at_the_end_of_the_grace_still_goes_and_a_moment_later_does_not()
     {
        let dir = tempfile::tempdir().unwrap();
        let sends = [
            r#"{ at: "2026-09-07 07:00" }"#,
            r#"{ at: "2026-09-08 07:00" }"#,
        ];
        let (ws, _) = workspace(dir.path(), "Asia/Ho_Chi_Minh", &sends);
        let ws = Arc::new(ws.unwrap());
        let store = ledger(dir.path(), &ws).await;
        let due = utc(2026, 9, 7, 1, 0);
        let s0 = enqueue_due(
            &store,
            &ws,
            0,
            due,
            Some(due - chrono::Duration::hours(2)),
            HOUR,
        );
        assert_eq!(s0.await.unwrap().inserted, 3, "60 min late, grace 60 min");
        let late = utc(2026, 9, 8, 1, 0) + chrono::Duration::milliseconds(1);
        let s1 = enqueue_due(&store, &ws, 0, late, Some(due), HOUR)
            .await
            .unwrap();
        assert_eq!((s1.missed, s1.inserted), (1, 0));
    }

    #[tokio::test]
    async fn seven_oclock_in_berlin_is_five_utc_in_summer_and_six_in_winter() {
        let dir = tempfile::tempdir().unwrap();
        // The clocks go back on 2026-10-25.
        let sends = [
            r#"{ at: "2026-10-24 07:00" }"#,
            r#"{ at: "2026-10-26 07:00" }"#,
        ];
        let (ws, errors) = workspace(dir.path(), "Europe/Berlin", &sends);
        assert_eq!(errors, Vec::<String>::new());
        let ws = Arc::new(ws.unwrap());
        let store = ledger(dir.path(), &ws).await;
        for (now, n) in [
            (utc(2026, 10, 24, 4, 59), 0),
            (utc(2026, 10, 24, 5, 0), 3),
            (utc(2026, 10, 26, 5, 59), 3),
            (utc(2026, 10, 26, 6, 0), 6),
        ] {
            enqueue_due(&store, &ws, 0, now, None, HOUR).await.unwrap();
            assert_eq!(rows(&store).await, n, "at {now}");
        }
    }

    #[tokio::test]
    async fn a_daemon_back_at_0900_sends_only_the_latest_of_twelve_missed_five_minute_runs() {
        let dir = tempfile::tempdir().unwrap();
        // Every 5 minutes from 08:00 to 08:55 on 7/9: twelve runs.
        let (ws, errors) = workspace(
            dir.path(),
            "Asia/Ho_Chi_Minh",
            &[r#"{ cron: "*/5 8 7 9 *" }"#],
        );
        assert_eq!(errors, Vec::<String>::new());
        let ws = Arc::new(ws.unwrap());
        let store = ledger(dir.path(), &ws).await;
        // Up at 09:00 local (02:00 UTC): every run lies inside the hour of grace.
        let back = enqueue_due(&store, &ws, 0, utc(2026, 9, 7, 2, 0), None, HOUR)
            .await
            .unwrap();
        assert_eq!((back.occurrences, back.missed, back.inserted), (1, 11, 3));
        let sent: Vec<(i64, Millis)> = sqlx::query_as(
            "SELECT n, at FROM occurrence WHERE enqueued_at IS NOT NULL AND missed_at IS NULL",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        assert_eq!(sent.len(), 1);
        assert_eq!(
            sent[0].1,
            utc(2026, 9, 7, 1, 55).timestamp_millis(),
            "08:55"
        );
        let missed: i64 =
            sqlx::query_scalar("SELECT COUNT(*) FROM occurrence WHERE missed_at IS NOT NULL")
                .fetch_one(store.pool())
                .await
                .unwrap();
        assert_eq!(missed, 11);
        let again = enqueue_due(&store, &ws, 0, utc(2026, 9, 7, 2, 1), None, HOUR).await;
        assert_eq!(again.unwrap(), EnqueueStats::default(), "nothing twice");
        assert_eq!(rows(&store).await, 3);
    }

    #[tokio::test]
    async fn an_older_run_begun_before_a_crash_is_finished_beside_the_latest() {
        let dir = tempfile::tempdir().unwrap();
        let (ws, _) = workspace(
            dir.path(),
            "Asia/Ho_Chi_Minh",
            &[r#"{ cron: "*/5 8 7 9 *" }"#],
        );
        let ws = Arc::new(ws.unwrap());
        let store = ledger(dir.path(), &ws).await;
        // The 08:00 run was begun (its occurrence row exists) when the daemon went down.
        let at = utc(2026, 9, 7, 1, 0).timestamp_millis();
        store.occurrence("r9", "s0", 1, at).await.unwrap();
        let back = enqueue_due(&store, &ws, 0, utc(2026, 9, 7, 1, 20), None, HOUR)
            .await
            .unwrap();
        // 08:00 finished, 08:05-08:15 missed, 08:20 sent.
        assert_eq!((back.occurrences, back.missed, back.inserted), (2, 3, 6));
    }

    /// Issue 14 item 7: rows `validate` reports become skipped messages, once.
    #[tokio::test]
    async fn unusable_rows_are_skipped_once_with_their_line_and_the_first_of_a_key_wins() {
        let dir = tempfile::tempdir().unwrap();
        let (ws, errors) = workspace(
            dir.path(),
            "Asia/Ho_Chi_Minh",
            &[r#"{ at: "2026-09-07 07:00" }"#],
        );
        assert_eq!(errors, Vec::<String>::new());
        std::fs::write(
            dir.path().join("campaigns/data/people.csv"),
            b"id,email\nr0,r0@example.test\nr1,r1@example.test\nr0,second@example.test\n\
              ,nokey@example.test\nr3\nr4,r\xC3@example.test\n",
        )
        .unwrap();
        let ws = Arc::new(ws.unwrap());
        let store = ledger(dir.path(), &ws).await;
        let midnight = utc(2026, 9, 7, 0, 0);
        let stats = enqueue_due(&store, &ws, 0, midnight, None, HOUR)
            .await
            .unwrap();
        assert_eq!(stats.inserted, 6);
        let got: Vec<(String, String, String)> = sqlx::query_as(
            "SELECT recipient, state, COALESCE(last_error, '') FROM message ORDER BY id",
        )
        .fetch_all(store.pool())
        .await
        .unwrap();
        let expect = [
            ("r0", "pending", ""),
            ("r1", "pending", ""),
            ("people.csv:4", "skipped", "line 4 has the key of line 2"),
            (
                "people.csv:5",
                "skipped",
                "line 5: the key column `id` is empty",
            ),
            ("people.csv:6", "skipped", "line 6: the row has 1 fields"),
            (
                "people.csv:7",
                "skipped",
                "line 7, column `email`: the value is not valid UTF-8",
            ),
        ];
        assert_eq!(got.len(), expect.len(), "{got:?}");
        for ((recipient, state, why), (r, s, e)) in expect.iter().zip(&got) {
            assert_eq!((*recipient, *state), (r.as_str(), s.as_str()), "{got:?}");
            assert!(e.contains(why), "{e:?} should say {why:?}");
            assert!(!e.contains("second@") && !e.contains("nokey"), "{e}");
        }
        // Enqueued again, as after a crash before the occurrence was marked: nothing new.
        sqlx::query("UPDATE occurrence SET enqueued_at = NULL")
            .execute(store.pool())
            .await
            .unwrap();
        let again = enqueue_due(&store, &ws, 0, midnight, None, HOUR)
            .await
            .unwrap();
        assert_eq!((again.occurrences, again.inserted), (1, 0));
        assert_eq!(rows(&store).await, 6);
    }

    /// A row far over the size limit stops the file's reading: the rows after it are unknown,
    /// so the occurrence fails (and is tried again) rather than being marked enqueued.
    #[tokio::test]
    async fn a_file_whose_reading_stops_fails_the_occurrence_naming_file_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let (ws, _) = workspace(
            dir.path(),
            "Asia/Ho_Chi_Minh",
            &[r#"{ at: "2026-09-07 07:00" }"#],
        );
        let mut csv = b"id,email\n".to_vec();
        for i in 0..150 {
            csv.extend_from_slice(format!("r{i},r{i}@example.test\n").as_bytes());
        }
        csv.extend_from_slice(b"big,\"");
        csv.extend(std::iter::repeat_n(
            b'x',
            2 * crate::audience::limits::MAX_ROW_BYTES,
        ));
        csv.extend_from_slice(b"\"\nlast,last@example.test\n");
        std::fs::write(dir.path().join("campaigns/data/people.csv"), csv).unwrap();
        let ws = Arc::new(ws.unwrap());
        let store = ledger(dir.path(), &ws).await;
        let e = enqueue_due(&store, &ws, 0, utc(2026, 9, 7, 0, 0), None, HOUR)
            .await
            .expect_err("the file cannot be read to its end");
        let message = format!("{e:#}");
        assert!(
            message.contains("people.csv") && message.contains("line 152"),
            "{message}"
        );
        let enqueued: Option<Millis> = sqlx::query_scalar("SELECT enqueued_at FROM occurrence")
            .fetch_one(store.pool())
            .await
            .unwrap();
        assert_eq!(enqueued, None);
    }

    #[test]
    fn an_unknown_time_zone_is_a_validation_error_and_no_workspace() {
        let dir = tempfile::tempdir().unwrap();
        let (ws, errors) = workspace(
            dir.path(),
            "Asia/Saigon_X",
            &[r#"{ at: "2026-09-07 07:00" }"#],
        );
        assert!(ws.is_none(), "a campaign with a bad zone must not load");
        assert!(
            errors
                .iter()
                .any(|e| e.contains("timezone") && e.contains("Asia/Saigon_X")),
            "{errors:?}"
        );
    }
}

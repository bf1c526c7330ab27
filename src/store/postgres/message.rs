//! `message`: inserting expanded messages and claiming due ones.
//!
//! Inserting binds one array per column and reads them with `UNNEST`: one statement for a
//! chunk of [`INSERT_ROWS`] rows, `ON CONFLICT DO NOTHING` on the natural key. Claiming is
//! one statement: the due rows chosen `FOR UPDATE SKIP LOCKED` (rows another daemon is
//! claiming are passed over, not waited for), leased by an `UPDATE … RETURNING`, their
//! events inserted from what it returned. A channel's claim (the pump's) reads the
//! `message_due` index in the claim's order (migrations/postgres/0004); a claim over every
//! campaign, which the daemon does not make, sorts the due rows it finds.

use std::time::Duration;

use anyhow::Context;
use sqlx::Row;
use sqlx::postgres::PgRow;

use super::PgLedger;
use crate::store::{Claimed, Millis, NewMessage, millis, to_u32};

/// Rows per statement: bounds the arrays one statement carries (a few MB of contexts).
const INSERT_ROWS: usize = 10_000;

/// The claim, before its `WHERE` narrows to a scope: `$1` now, `$2` owner, `$3` lease
/// end, `$4` limit; a scope's own parameters follow.
const CLAIM: &str = "WITH due AS (SELECT id FROM message \
        WHERE state = 'pending' AND next_attempt_at <= $1 AND expires_at >= $1 {scope} \
        ORDER BY next_attempt_at, id LIMIT $4 FOR UPDATE SKIP LOCKED), \
    leased AS (UPDATE message AS m SET state = 'sending', attempts = m.attempts + 1, \
        lease_owner = $2, lease_until = $3, updated_at = $1 FROM due WHERE m.id = due.id \
        AND m.state = 'pending' \
        RETURNING m.id, m.message_id, m.campaign, m.step, m.channel, m.recipient, \
        m.address, m.attempts, m.occurrence_at, m.occurrence_n, m.occurrence_id, \
        m.expires_at, m.context, m.fallback_of, m.next_attempt_at), \
    events AS (INSERT INTO message_event (message, at, from_state, to_state, detail) \
        SELECT id, $1, 'pending', 'sending', 'attempt ' || attempts || ' by ' || $2 \
        FROM leased) \
    SELECT * FROM leased ORDER BY next_attempt_at, id";

impl PgLedger {
    pub(crate) async fn insert_messages(
        &self,
        rows: &[NewMessage],
        now: Millis,
    ) -> anyhow::Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        let mut w = self.write().await?;
        let mut inserted = 0;
        for chunk in rows.chunks(INSERT_ROWS) {
            inserted += insert_chunk(&mut w.tx, chunk, now).await?;
        }
        w.commit().await?;
        Ok(inserted)
    }

    pub(crate) async fn claim(
        &self,
        owner: &str,
        now: Millis,
        lease: Duration,
        limit: u32,
        channels: &[String],
    ) -> anyhow::Result<Vec<Claimed>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let lease_until = now + millis(lease);
        let sql = if channels.is_empty() {
            CLAIM.replace("{scope}", "")
        } else {
            CLAIM.replace("{scope}", "AND channel = ANY($5)")
        };
        let mut query = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(owner)
            .bind(lease_until)
            .bind(i64::from(limit));
        if !channels.is_empty() {
            query = query.bind(channels);
        }
        let rows = query
            .fetch_all(self.pool())
            .await
            .with_context(|| format!("claiming messages for {owner}"))?;
        rows.iter().map(claimed).collect()
    }

    pub(crate) async fn claim_channel(
        &self,
        owner: &str,
        now: Millis,
        lease: Duration,
        limit: u32,
        campaign: &str,
        channel: &str,
    ) -> anyhow::Result<Vec<Claimed>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let sql = CLAIM.replace("{scope}", "AND campaign = $5 AND channel = $6");
        let rows = sqlx::query(sqlx::AssertSqlSafe(sql))
            .bind(now)
            .bind(owner)
            .bind(now + millis(lease))
            .bind(i64::from(limit))
            .bind(campaign)
            .bind(channel)
            .fetch_all(self.pool())
            .await
            .with_context(|| format!("claiming messages for {owner}"))?;
        rows.iter().map(claimed).collect()
    }
}

/// One `INSERT … SELECT … FROM UNNEST(…) ON CONFLICT DO NOTHING`; returns how many rows
/// were new. The columns the rows of one occurrence share (all of an enqueue batch) are
/// bound once, as on SQLite; rows of several occurrences bind every column as an array.
/// A skip reason may quote the address it could not use: it is kept masked.
async fn insert_chunk(
    conn: &mut sqlx::PgConnection,
    chunk: &[NewMessage],
    now: Millis,
) -> anyhow::Result<u64> {
    let first = shared(&chunk[0]);
    let one_occurrence = chunk.iter().all(|m| shared(m) == first);
    let column = |f: fn(&NewMessage) -> i64| chunk.iter().map(f).collect::<Vec<i64>>();
    let text = |f: fn(&NewMessage) -> &str| chunk.iter().map(f).collect::<Vec<&str>>();
    let mut state = Vec::with_capacity(chunk.len());
    let mut last_error = Vec::with_capacity(chunk.len());
    for m in chunk {
        let (born, reason) = m.state.state_and_reason();
        state.push(born);
        last_error.push(reason.map(|r| crate::mask::mask_text(r, "").into_owned()));
    }
    let query = if one_occurrence {
        sqlx::query(INSERT_SHARED)
            .bind(now)
            .bind(chunk[0].campaign.clone())
            .bind(chunk[0].step.clone())
            .bind(chunk[0].occurrence_id)
            .bind(chunk[0].occurrence_at)
            .bind(i64::from(chunk[0].occurrence_n))
            .bind(chunk[0].next_attempt_at)
            .bind(chunk[0].expires_at)
    } else {
        sqlx::query(INSERT_EACH)
            .bind(now)
            .bind(text(|m| &m.campaign))
            .bind(text(|m| &m.step))
            .bind(column(|m| m.occurrence_id))
            .bind(column(|m| m.occurrence_at))
            .bind(column(|m| i64::from(m.occurrence_n)))
            .bind(column(|m| m.next_attempt_at))
            .bind(column(|m| m.expires_at))
    };
    let done = query
        .bind(text(|m| &m.tag))
        .bind(text(|m| &m.recipient))
        .bind(text(|m| &m.channel))
        .bind(chunk.iter().map(|m| m.fallback_of).collect::<Vec<_>>())
        .bind(
            chunk
                .iter()
                .map(|m| m.address.as_deref())
                .collect::<Vec<_>>(),
        )
        .bind(state)
        .bind(text(|m| &m.context))
        .bind(last_error)
        .execute(&mut *conn)
        .await
        .context("inserting messages")?;
    Ok(done.rows_affected())
}

/// The columns the rows of one occurrence have in common.
fn shared(m: &NewMessage) -> (&str, &str, i64, Millis, u32, Millis, Millis) {
    (
        m.campaign.as_str(),
        m.step.as_str(),
        m.occurrence_id,
        m.occurrence_at,
        m.occurrence_n,
        m.next_attempt_at,
        m.expires_at,
    )
}

/// [`insert_chunk`] for one occurrence: `$1` now, `$2`…`$8` the shared columns, `$9`…`$16`
/// one array per column of its own.
const INSERT_SHARED: &str = "INSERT INTO message (campaign, step, occurrence_id, \
    occurrence_at, occurrence_n, next_attempt_at, expires_at, queued_at, updated_at, \
    attempts, tag, recipient, channel, fallback_of, address, state, context, last_error) \
    SELECT $2, $3, $4, $5, $6, $7, $8, $1, $1, 0, u.* \
    FROM UNNEST($9::text[], $10::text[], $11::text[], $12::bigint[], $13::text[], \
        $14::text[], $15::text[], $16::text[]) \
    AS u (tag, recipient, channel, fallback_of, address, state, context, last_error) \
    ON CONFLICT DO NOTHING";

/// [`insert_chunk`] for rows of several occurrences: the shared columns as arrays too.
const INSERT_EACH: &str = "INSERT INTO message (campaign, step, occurrence_id, \
    occurrence_at, occurrence_n, next_attempt_at, expires_at, queued_at, updated_at, \
    attempts, tag, recipient, channel, fallback_of, address, state, context, last_error) \
    SELECT u.campaign, u.step, u.occurrence_id, u.occurrence_at, u.occurrence_n, \
    u.next_attempt_at, u.expires_at, $1, $1, 0, u.tag, u.recipient, u.channel, \
    u.fallback_of, u.address, u.state, u.context, u.last_error \
    FROM UNNEST($2::text[], $3::text[], $4::bigint[], $5::bigint[], $6::bigint[], \
        $7::bigint[], $8::bigint[], $9::text[], $10::text[], $11::text[], $12::bigint[], \
        $13::text[], $14::text[], $15::text[], $16::text[]) \
    AS u (campaign, step, occurrence_id, occurrence_at, occurrence_n, next_attempt_at, \
        expires_at, tag, recipient, channel, fallback_of, address, state, context, \
        last_error) \
    ON CONFLICT DO NOTHING";

/// A leased row as [`Claimed`].
fn claimed(row: &PgRow) -> anyhow::Result<Claimed> {
    Ok(Claimed {
        id: row.try_get("id")?,
        message_id: row.try_get("message_id")?,
        campaign: row.try_get("campaign")?,
        step: row.try_get("step")?,
        channel: row.try_get("channel")?,
        recipient: row.try_get("recipient")?,
        address: row.try_get("address")?,
        attempt: to_u32(row.try_get("attempts")?, "attempts")?,
        occurrence_at: row.try_get("occurrence_at")?,
        occurrence_n: to_u32(row.try_get("occurrence_n")?, "occurrence number")?,
        occurrence_id: row.try_get("occurrence_id")?,
        expires_at: row.try_get("expires_at")?,
        context: row.try_get("context")?,
        fallback_of: row.try_get("fallback_of")?,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use sqlx::Connection as _;

    use super::*;
    use crate::store::Store;
    use crate::store::test_support::*;

    const LEASE: Duration = Duration::from_secs(75);

    #[tokio::test]
    async fn two_daemons_claiming_at_once_never_get_the_same_message() {
        let Some(db) = pg_database().await else {
            return;
        };
        // Two daemons: two stores, each with its own pool, on one database.
        let first = Store::open_postgres(&db.url()).await.unwrap();
        let second = Store::open_postgres(&db.url()).await.unwrap();
        let occ = seed(&first).await;
        insert(&first, &occ, 3000).await;
        let claimers: Vec<_> = [first.clone(), second.clone()]
            .into_iter()
            .flat_map(|store| [store.clone(), store])
            .enumerate()
            .map(|(w, store)| {
                tokio::spawn(async move {
                    let owner = format!("daemon{}-w{w}", w / 2);
                    let mut mine = Vec::new();
                    loop {
                        let batch = store.claim(&owner, T0, LEASE, 50, &[]).await.unwrap();
                        if batch.is_empty() {
                            return mine;
                        }
                        mine.extend(batch.into_iter().map(|c| c.id));
                    }
                })
            })
            .collect();
        let mut all = Vec::new();
        for claimer in claimers {
            let mine = claimer.await.unwrap();
            assert!(!mine.is_empty(), "each claimer got some");
            all.extend(mine);
        }
        let distinct: HashSet<i64> = all.iter().copied().collect();
        assert_eq!((all.len(), distinct.len()), (3000, 3000));
        assert_eq!(
            count(&first, "SELECT COUNT(*) FROM message_event").await,
            3000
        );
        first.close().await;
        second.close().await;
    }

    /// Enqueue into PostgreSQL next to the server's own `COPY` of the same rows, in one run
    /// (`cargo test --lib enqueue_next_to_copy -- --ignored --nocapture`; the figures of a
    /// debug build understate loa's side a little).
    #[tokio::test]
    #[ignore = "a measurement, not a check"]
    async fn enqueue_next_to_copy() {
        let Some((db, store)) = open_pg().await else {
            return;
        };
        const N: usize = 200_000;
        let occ = seed(&store).await;
        let rows: Vec<NewMessage> = messages(&occ, N);
        // The ceiling first: the same rows under other recipient keys, as CSV, copied into
        // the ledger's own table (its keys, indexes and foreign keys), over the same socket.
        let options = super::super::connection::connect_options(&db.url()).unwrap();
        let mut conn = sqlx::PgConnection::connect_with(&options).await.unwrap();
        let mut csv = String::new();
        for m in &rows {
            csv.push_str(&format!(
                "{},{},{},{},{},{},{}-copy,{},,{},pending,0,{},{},\"{}\",,{},{}\n",
                m.tag,
                m.campaign,
                m.step,
                m.occurrence_id,
                m.occurrence_at,
                m.occurrence_n,
                m.recipient,
                m.channel,
                m.address.as_deref().unwrap_or_default(),
                m.next_attempt_at,
                m.expires_at,
                m.context.replace('"', "\"\""),
                T0,
                T0
            ));
        }
        let started = std::time::Instant::now();
        let mut copy = conn
            .copy_in_raw(
                "COPY message (tag, campaign, step, occurrence_id, occurrence_at, \
                 occurrence_n, recipient, channel, fallback_of, address, state, attempts, \
                 next_attempt_at, expires_at, context, last_error, queued_at, updated_at) \
                 FROM STDIN WITH (FORMAT csv)",
            )
            .await
            .unwrap();
        copy.send(csv.as_bytes()).await.unwrap();
        assert_eq!(copy.finish().await.unwrap(), N as u64);
        let ceiling = started.elapsed();
        let started = std::time::Instant::now();
        for batch in rows.chunks(10_000) {
            store.insert_messages(batch, T0).await.unwrap();
        }
        let loa = started.elapsed();
        let rate = |d: Duration| N as f64 / d.as_secs_f64();
        eprintln!(
            "{N} messages: loa {loa:.2?} ({:.0} rows/s), COPY {ceiling:.2?} ({:.0} rows/s): \
             {:.0} % of COPY",
            rate(loa),
            rate(ceiling),
            100.0 * ceiling.as_secs_f64() / loa.as_secs_f64()
        );
    }

    #[tokio::test]
    async fn the_claim_index_hands_rows_over_in_the_claims_order() {
        let Some((_db, store)) = open_pg().await else {
            return;
        };
        let definition: String =
            sqlx::query_scalar("SELECT indexdef FROM pg_indexes WHERE indexname = 'message_due'")
                .fetch_one(store.pg_pool())
                .await
                .unwrap();
        assert!(
            definition.contains("(campaign, channel, next_attempt_at, id)"),
            "{definition}"
        );
    }

    #[tokio::test]
    async fn a_claim_passes_over_rows_another_daemon_holds_instead_of_waiting() {
        let Some((_db, store)) = open_pg().await else {
            return;
        };
        let occ = seed(&store).await;
        let ids = insert(&store, &occ, 4).await;
        // Another daemon in the middle of its claim holds the two oldest rows.
        let mut other = store.pg_pool().begin().await.unwrap();
        sqlx::query("SELECT id FROM message WHERE id = ANY($1) FOR UPDATE")
            .bind(&ids[..2])
            .fetch_all(&mut *other)
            .await
            .unwrap();
        let claimed =
            tokio::time::timeout(Duration::from_secs(2), store.claim("w", T0, LEASE, 10, &[]))
                .await
                .expect("the claim did not wait for the other daemon")
                .unwrap();
        let got: Vec<i64> = claimed.iter().map(|c| c.id).collect();
        assert_eq!(got, ids[2..]);
        other.rollback().await.unwrap();
        let rest = store.claim("w", T0, LEASE, 10, &[]).await.unwrap();
        assert_eq!(rest.iter().map(|c| c.id).collect::<Vec<_>>(), ids[..2]);
    }
}

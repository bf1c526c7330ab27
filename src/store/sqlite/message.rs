//! `message`: inserting expanded messages and claiming due ones.

use std::time::Duration;

use anyhow::Context;
use sqlx::sqlite::SqliteConnection;
use sqlx::{QueryBuilder, Sqlite};

use super::SqliteLedger;
use super::event::{self, Detail};
use super::values;
use crate::store::{Claimed, MessageState, Millis, NewMessage, millis, to_u32};

/// Rows per `INSERT` statement: 512 × 17 parameters stays well under SQLite's 32,766, and
/// every full batch reuses one prepared statement.
const INSERT_ROWS: usize = values::MAX_ROWS;

impl SqliteLedger {
    /// Inserts messages that do not exist yet — one per (campaign, step, occurrence,
    /// recipient, channel) — in one transaction. Returns how many rows were inserted:
    /// calling it again with the same rows inserts nothing. A row's birth needs no event:
    /// it is the row's `queued_at` and the state it was inserted in.
    pub(crate) async fn insert_messages(
        &self,
        rows: &[NewMessage],
        now: Millis,
    ) -> anyhow::Result<u64> {
        if rows.is_empty() {
            return Ok(0);
        }
        // A skip reason may quote the address it could not use: kept masked.
        let masked: Vec<NewMessage>;
        let rows = if rows.iter().any(|m| m.state.masked().is_some()) {
            masked = rows
                .iter()
                .map(|m| NewMessage {
                    state: m.state.masked().unwrap_or_else(|| m.state.clone()),
                    ..m.clone()
                })
                .collect();
            &masked[..]
        } else {
            rows
        };
        let mut w = self.write().await?;
        let mut inserted = 0;
        for chunk in rows.chunks(INSERT_ROWS) {
            inserted += insert_chunk(&mut w.tx, chunk, now).await?;
        }
        w.commit().await?;
        Ok(inserted)
    }

    /// Leases up to `limit` due messages (`pending`, `next_attempt_at <= now`, window still
    /// open at `now`, on one of `channels`, or any channel when empty) to `owner` until
    /// `now + lease`: each moves to `sending` and its `attempts` goes up by one — the
    /// fencing token its outcome must carry. Oldest due first. Durable on return, before
    /// any network I/O. Messages whose window closed are left to [`Store::expire_closed`].
    pub(crate) async fn claim(
        &self,
        owner: &str,
        now: Millis,
        lease: Duration,
        limit: u32,
        channels: &[String],
    ) -> anyhow::Result<Vec<Claimed>> {
        self.claim_in(owner, now, lease, limit, Scope::Channels(channels))
            .await
    }

    /// [`Store::claim`] on one channel of one campaign: what the pump asks for when that
    /// channel has room.
    pub(crate) async fn claim_channel(
        &self,
        owner: &str,
        now: Millis,
        lease: Duration,
        limit: u32,
        campaign: &str,
        channel: &str,
    ) -> anyhow::Result<Vec<Claimed>> {
        self.claim_in(owner, now, lease, limit, Scope::One { campaign, channel })
            .await
    }

    async fn claim_in(
        &self,
        owner: &str,
        now: Millis,
        lease: Duration,
        limit: u32,
        scope: Scope<'_>,
    ) -> anyhow::Result<Vec<Claimed>> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let mut w = self.write().await?;
        let mut claimed = claim_rows(&mut w.tx, owner, now, now + millis(lease), limit, scope)
            .await
            .with_context(|| format!("claiming messages for {owner}"))?;
        let ids: Vec<i64> = claimed.iter().map(|(c, _)| c.id).collect();
        let from = Some(MessageState::Pending);
        event::for_rows(&mut w.tx, &ids, now, from, Detail::Lease).await?;
        w.commit().await?;
        claimed.sort_by_key(|(c, due)| (*due, c.id));
        Ok(claimed.into_iter().map(|(c, _)| c).collect())
    }
}

/// One multi-row `INSERT … ON CONFLICT DO NOTHING`; returns how many rows were new.
///
/// The rows of one occurrence (all of an enqueue batch) share their campaign, step,
/// occurrence and times: those are bound once ([`insert_shared`]); rows of several
/// occurrences bind every column ([`insert_each`]).
async fn insert_chunk(
    conn: &mut SqliteConnection,
    chunk: &[NewMessage],
    now: Millis,
) -> anyhow::Result<u64> {
    let first = shared(&chunk[0]);
    if chunk.iter().all(|m| shared(m) == first) {
        insert_shared(conn, chunk, now).await
    } else {
        insert_each(conn, chunk, now).await
    }
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

/// [`insert_chunk`] for rows of one occurrence: the shared columns bound once, in a
/// one-row CTE every row is joined to, so a row costs eight parameters instead of
/// seventeen.
async fn insert_shared(
    conn: &mut SqliteConnection,
    chunk: &[NewMessage],
    now: Millis,
) -> anyhow::Result<u64> {
    let first = &chunk[0];
    const SQL: &str = "WITH s (campaign, step, occurrence_id, occurrence_at, occurrence_n, \
        next_attempt_at, expires_at, now) AS (SELECT ?, ?, ?, ?, ?, ?, ?, ?) \
        INSERT INTO message (campaign, step, occurrence_id, occurrence_at, occurrence_n, \
        next_attempt_at, expires_at, queued_at, updated_at, attempts, tag, recipient, \
        channel, fallback_of, address, state, context, last_error) \
        SELECT s.campaign, s.step, s.occurrence_id, s.occurrence_at, s.occurrence_n, \
        s.next_attempt_at, s.expires_at, s.now, s.now, 0, v.column1, v.column2, v.column3, \
        v.column4, v.column5, v.column6, v.column7, v.column8 \
        FROM s, (VALUES {values}) AS v WHERE v.column1 IS NOT NULL ON CONFLICT DO NOTHING";
    let mut query = sqlx::query(values::sql(SQL, 8, values::padded(chunk.len())))
        .bind(first.campaign.as_str())
        .bind(first.step.as_str())
        .bind(first.occurrence_id)
        .bind(first.occurrence_at)
        .bind(i64::from(first.occurrence_n))
        .bind(first.next_attempt_at)
        .bind(first.expires_at)
        .bind(now);
    for m in chunk {
        let (state, reason) = m.state.state_and_reason();
        query = query
            .bind(m.tag.as_str())
            .bind(m.recipient.as_str())
            .bind(m.channel.as_str())
            .bind(m.fallback_of)
            .bind(m.address.as_deref())
            .bind(state)
            .bind(m.context.as_str())
            .bind(reason);
    }
    let done = values::pad(query, 8, chunk.len())
        .execute(&mut *conn)
        .await
        .context("inserting messages")?;
    Ok(done.rows_affected())
}

/// [`insert_chunk`] for rows of different occurrences: every column bound per row.
async fn insert_each(
    conn: &mut SqliteConnection,
    chunk: &[NewMessage],
    now: Millis,
) -> anyhow::Result<u64> {
    let mut insert: QueryBuilder<Sqlite> = QueryBuilder::new(
        "INSERT INTO message (tag, campaign, step, occurrence_id, occurrence_at, \
         occurrence_n, recipient, channel, fallback_of, address, state, attempts, \
         next_attempt_at, expires_at, context, last_error, queued_at, updated_at) ",
    );
    insert.push_values(chunk, |mut row, m| {
        let (state, reason) = m.state.state_and_reason();
        row.push_bind(m.tag.as_str())
            .push_bind(m.campaign.as_str())
            .push_bind(m.step.as_str())
            .push_bind(m.occurrence_id)
            .push_bind(m.occurrence_at)
            .push_bind(i64::from(m.occurrence_n))
            .push_bind(m.recipient.as_str())
            .push_bind(m.channel.as_str())
            .push_bind(m.fallback_of)
            .push_bind(m.address.as_deref())
            .push_bind(state)
            .push("0")
            .push_bind(m.next_attempt_at)
            .push_bind(m.expires_at)
            .push_bind(m.context.as_str())
            .push_bind(reason)
            .push_bind(now)
            .push_bind(now);
    });
    insert.push(" ON CONFLICT DO NOTHING");
    let done = insert
        .build()
        .execute(&mut *conn)
        .await
        .context("inserting messages")?;
    Ok(done.rows_affected())
}

/// Which messages a claim may take.
#[derive(Clone, Copy)]
enum Scope<'a> {
    /// Messages on any of these channel names (any channel when empty), of any campaign.
    Channels(&'a [String]),
    One {
        campaign: &'a str,
        channel: &'a str,
    },
}

/// A claimed row as the claim reads it back: the columns of [`Claimed`], then its due time.
type ClaimedRow = (
    i64,
    String,
    String,
    String,
    String,
    String,
    Option<String>,
    i64,
    Millis,
    i64,
    i64,
    Millis,
    String,
    Option<i64>,
    Millis,
);

/// The claim, in three statements of one write transaction: choose the oldest due ids,
/// lease them, read them back. Each hands one row (a JSON array) from sqlx's worker
/// thread, which passes `RETURNING` rows over one at a time — slower than the claim itself
/// for a large batch. Each claimed row comes with its due time for ordering.
async fn claim_rows(
    conn: &mut SqliteConnection,
    owner: &str,
    now: Millis,
    lease_until: Millis,
    limit: u32,
    scope: Scope<'_>,
) -> anyhow::Result<Vec<(Claimed, Millis)>> {
    let ids = due_ids(conn, now, limit, scope).await?;
    if ids == "[]" {
        return Ok(Vec::new());
    }
    lease(conn, &ids, owner, lease_until, now).await?;
    read_claimed(conn, &ids).await
}

/// Moves the rows of `ids` (a JSON array) still `pending` to `sending` under `owner`'s
/// lease, counting the attempt.
async fn lease(
    conn: &mut SqliteConnection,
    ids: &str,
    owner: &str,
    lease_until: Millis,
    now: Millis,
) -> anyhow::Result<()> {
    sqlx::query(
        // The unary `+` makes SQLite take the chosen ids by primary key instead of walking
        // every pending row of the claim index to test each against them.
        "UPDATE message SET state = 'sending', attempts = attempts + 1, lease_owner = ?1, \
         lease_until = ?2, updated_at = ?3 \
         WHERE id IN (SELECT value FROM json_each(?4)) AND +state = 'pending'",
    )
    .bind(owner)
    .bind(lease_until)
    .bind(now)
    .bind(ids)
    .execute(&mut *conn)
    .await?;
    Ok(())
}

/// The rows of `ids` (a JSON array) as [`Claimed`], each with its due time.
async fn read_claimed(
    conn: &mut SqliteConnection,
    ids: &str,
) -> anyhow::Result<Vec<(Claimed, Millis)>> {
    let rows: String = sqlx::query_scalar(
        "SELECT json_group_array(json_array(id, message_id, campaign, step, channel, \
         recipient, address, attempts, occurrence_at, occurrence_n, occurrence_id, \
         expires_at, context, fallback_of, next_attempt_at)) \
         FROM message WHERE id IN (SELECT value FROM json_each(?1))",
    )
    .bind(ids)
    .fetch_one(&mut *conn)
    .await?;
    let rows: Vec<ClaimedRow> = serde_json::from_str(&rows)?;
    rows.into_iter()
        .map(|r| {
            let claimed = Claimed {
                id: r.0,
                message_id: r.1,
                campaign: r.2,
                step: r.3,
                channel: r.4,
                recipient: r.5,
                address: r.6,
                attempt: to_u32(r.7, "attempts")?,
                occurrence_at: r.8,
                occurrence_n: to_u32(r.9, "occurrence number")?,
                occurrence_id: r.10,
                expires_at: r.11,
                context: r.12,
                fallback_of: r.13,
            };
            Ok((claimed, r.14))
        })
        .collect()
}

/// The ids of up to `limit` due messages in `scope`, oldest due first, as a JSON array.
async fn due_ids(
    conn: &mut SqliteConnection,
    now: Millis,
    limit: u32,
    scope: Scope<'_>,
) -> anyhow::Result<String> {
    let mut select: QueryBuilder<Sqlite> = QueryBuilder::new(
        // PostgreSQL: the same subquery with FOR UPDATE SKIP LOCKED.
        "SELECT json_group_array(id) FROM (SELECT id FROM message \
         WHERE state = 'pending' AND next_attempt_at <= ",
    );
    select
        .push_bind(now)
        .push(" AND expires_at >= ")
        .push_bind(now);
    match scope {
        Scope::Channels([]) => {}
        Scope::Channels(channels) => {
            select.push(" AND channel IN (");
            let mut list = select.separated(", ");
            for channel in channels {
                list.push_bind(channel.as_str());
            }
            select.push(")");
        }
        Scope::One { campaign, channel } => {
            select
                .push(" AND campaign = ")
                .push_bind(campaign)
                .push(" AND channel = ")
                .push_bind(channel);
        }
    }
    select
        .push(" ORDER BY next_attempt_at, id LIMIT ")
        .push_bind(i64::from(limit))
        .push(")");
    Ok(select.build_query_scalar().fetch_one(&mut *conn).await?)
}

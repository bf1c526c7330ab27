//! [`MessageState`]: the state of a message, as `message.state` stores it.
//!
//! The one spelling of each state is [`MessageState::as_str`]; parsing, display, serde and
//! the sqlx conversions all go through it, so a value read from or written to the ledger,
//! printed by `status` / `report` or shown on the dashboard is the same word. The table's
//! CHECK constraint (last rebuilt by migration 0009) allows exactly [`MessageState::ALL`];
//! a test below reads the migrated schema to keep the two in step.
//!
//! The same conversions serve PostgreSQL, where a state is `TEXT` too and a batch binds its
//! states as one `text[]`.
//!
//! SQL text still names states as literals where the query planner needs them: SQLite
//! uses a partial index (`message_due … WHERE state = 'pending'`, `message_leased … WHERE
//! state = 'sending'`) only when the query's own `WHERE` has that literal term, which a
//! bound parameter is not. Another test checks that every state word quoted in the
//! store's SQL is one of [`MessageState::ALL`].

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sqlx::encode::IsNull;
use sqlx::error::BoxDynError;
use sqlx::postgres::{PgArgumentBuffer, PgHasArrayType, PgTypeInfo, PgValueRef};
use sqlx::sqlite::{SqliteArgumentsBuffer, SqliteTypeInfo, SqliteValueRef};
use sqlx::{Postgres, Sqlite};

/// Where a message is in its life (see `docs/` for the state machine). `Replaced`: it
/// failed on its channel and the step's fallback took its recipient over (migration 0009).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "&'static str", try_from = "&str")]
pub enum MessageState {
    /// Waiting for its due time (or its next try).
    Pending,
    /// Claimed by a worker under a lease, one try in progress.
    Sending,
    /// Accepted by the provider.
    Sent,
    /// The provider's receipt says it arrived.
    Delivered,
    /// A permanent failure, retries exhausted, or a failure receipt.
    Failed,
    /// Its window closed before it could go.
    Expired,
    /// Recorded, never sent (no address, opted out, suppressed); the reason in `last_error`.
    Skipped,
    /// Stopped by the operator or a reload that removed its step.
    Cancelled,
    /// Failed on its channel; the step's fallback took over.
    Replaced,
}

impl MessageState {
    /// Every state, in the order `status` and the dashboard list them.
    pub const ALL: [MessageState; 9] = [
        MessageState::Pending,
        MessageState::Sending,
        MessageState::Sent,
        MessageState::Delivered,
        MessageState::Failed,
        MessageState::Expired,
        MessageState::Skipped,
        MessageState::Cancelled,
        MessageState::Replaced,
    ];

    /// States a message can still leave by itself; a campaign is done only when none remain.
    pub const OPEN: [MessageState; 2] = [MessageState::Pending, MessageState::Sending];

    /// A count of zero for every state, keyed by its word: the shape of the counts that
    /// `status` and the dashboard show, zeros included.
    pub fn zero_counts() -> BTreeMap<String, u64> {
        MessageState::ALL
            .iter()
            .map(|s| (s.as_str().to_owned(), 0))
            .collect()
    }

    /// The word stored in `message.state` and shown everywhere.
    pub const fn as_str(self) -> &'static str {
        match self {
            MessageState::Pending => "pending",
            MessageState::Sending => "sending",
            MessageState::Sent => "sent",
            MessageState::Delivered => "delivered",
            MessageState::Failed => "failed",
            MessageState::Expired => "expired",
            MessageState::Skipped => "skipped",
            MessageState::Cancelled => "cancelled",
            MessageState::Replaced => "replaced",
        }
    }
}

impl fmt::Display for MessageState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A word that is not a message state.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown message state {0:?} (one of {list})", list = state_list())]
pub struct UnknownState(pub String);

fn state_list() -> String {
    MessageState::ALL.map(MessageState::as_str).join(", ")
}

impl FromStr for MessageState {
    type Err = UnknownState;

    fn from_str(word: &str) -> Result<Self, Self::Err> {
        MessageState::ALL
            .into_iter()
            .find(|state| state.as_str() == word)
            .ok_or_else(|| UnknownState(word.to_owned()))
    }
}

impl TryFrom<&str> for MessageState {
    type Error = UnknownState;

    fn try_from(word: &str) -> Result<Self, Self::Error> {
        word.parse()
    }
}

impl From<MessageState> for &'static str {
    fn from(state: MessageState) -> Self {
        state.as_str()
    }
}

/// Tests and callers compare with the stored word directly.
impl PartialEq<&str> for MessageState {
    fn eq(&self, word: &&str) -> bool {
        self.as_str() == *word
    }
}

impl PartialEq<str> for MessageState {
    fn eq(&self, word: &str) -> bool {
        self.as_str() == word
    }
}

impl sqlx::Type<Sqlite> for MessageState {
    fn type_info() -> SqliteTypeInfo {
        <str as sqlx::Type<Sqlite>>::type_info()
    }

    fn compatible(ty: &SqliteTypeInfo) -> bool {
        <str as sqlx::Type<Sqlite>>::compatible(ty)
    }
}

impl sqlx::Encode<'_, Sqlite> for MessageState {
    fn encode_by_ref(&self, buf: &mut SqliteArgumentsBuffer) -> Result<IsNull, BoxDynError> {
        <&str as sqlx::Encode<'_, Sqlite>>::encode_by_ref(&self.as_str(), buf)
    }
}

impl<'r> sqlx::Decode<'r, Sqlite> for MessageState {
    fn decode(value: SqliteValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(<&str as sqlx::Decode<'r, Sqlite>>::decode(value)?.parse()?)
    }
}

impl sqlx::Type<Postgres> for MessageState {
    fn type_info() -> PgTypeInfo {
        <str as sqlx::Type<Postgres>>::type_info()
    }

    fn compatible(ty: &PgTypeInfo) -> bool {
        <str as sqlx::Type<Postgres>>::compatible(ty)
    }
}

/// Batches bind states as one `text[]` (see `store::postgres`).
impl PgHasArrayType for MessageState {
    fn array_type_info() -> PgTypeInfo {
        <&str as PgHasArrayType>::array_type_info()
    }
}

impl sqlx::Encode<'_, Postgres> for MessageState {
    fn encode_by_ref(&self, buf: &mut PgArgumentBuffer) -> Result<IsNull, BoxDynError> {
        <&str as sqlx::Encode<'_, Postgres>>::encode_by_ref(&self.as_str(), buf)
    }
}

impl<'r> sqlx::Decode<'r, Postgres> for MessageState {
    fn decode(value: PgValueRef<'r>) -> Result<Self, BoxDynError> {
        Ok(<&str as sqlx::Decode<'r, Postgres>>::decode(value)?.parse()?)
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    #[test]
    fn every_state_reads_back_from_its_word_and_another_word_is_refused() {
        for state in MessageState::ALL {
            assert_eq!(state.as_str().parse::<MessageState>(), Ok(state));
            assert_eq!(state.to_string(), state.as_str());
            let json = serde_json::to_string(&state).unwrap();
            assert_eq!(json, format!("\"{state}\""));
            assert_eq!(serde_json::from_str::<MessageState>(&json).unwrap(), state);
        }
        let err = "paused".parse::<MessageState>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown message state \"paused\" (one of pending, sending, sent, delivered, \
             failed, expired, skipped, cancelled, replaced)"
        );
        assert!("Sent".parse::<MessageState>().is_err());
    }

    /// The words of `state = '…'` terms in a CHECK constraint, in order.
    fn checked_words(sql: &str) -> Vec<String> {
        sql.split("state = '")
            .skip(1)
            .map(|rest| rest.split('\'').next().unwrap_or_default().to_owned())
            .collect()
    }

    #[tokio::test]
    async fn the_migrated_check_constraint_allows_exactly_every_state() {
        let (_dir, store) = open().await;
        let table: String =
            sqlx::query_scalar("SELECT sql FROM sqlite_schema WHERE type = 'table' AND name = ?")
                .bind("message")
                .fetch_one(store.pool())
                .await
                .unwrap();
        let check = table
            .lines()
            .skip_while(|line| !line.trim_start().starts_with("state "))
            .take_while(|line| !line.trim_start().starts_with("attempts "))
            .collect::<Vec<_>>()
            .join("\n");
        let words = checked_words(&check);
        assert_eq!(words, MessageState::ALL.map(|s| s.as_str().to_owned()));
        // And the constraint does what it says: every state goes in, another word does not.
        let occ = seed(&store).await;
        insert(&store, &occ, 1).await;
        let set = |word: &'static str| {
            let pool = store.pool().clone();
            async move {
                sqlx::query("UPDATE message SET state = ?")
                    .bind(word)
                    .execute(&pool)
                    .await
            }
        };
        for state in MessageState::ALL {
            set(state.as_str()).await.unwrap();
            let stored: MessageState = sqlx::query_scalar("SELECT state FROM message")
                .fetch_one(store.pool())
                .await
                .unwrap();
            assert_eq!(stored, state);
        }
        let err = set("paused").await.expect_err("not a state");
        assert!(err.to_string().contains("CHECK constraint failed"), "{err}");
    }

    #[tokio::test]
    async fn on_postgres_every_state_goes_in_and_reads_back_and_another_word_does_not() {
        let Some((_db, store)) = open_pg().await else {
            return;
        };
        let occ = seed(&store).await;
        insert(&store, &occ, 1).await;
        let pool = store.pg_pool();
        for state in MessageState::ALL {
            sqlx::query("UPDATE message SET state = $1")
                .bind(state)
                .execute(pool)
                .await
                .unwrap();
            let stored: MessageState = sqlx::query_scalar("SELECT state FROM message")
                .fetch_one(pool)
                .await
                .unwrap();
            assert_eq!(stored, state);
        }
        let err = sqlx::query("UPDATE message SET state = 'paused'")
            .execute(pool)
            .await
            .expect_err("not a state");
        assert!(err.to_string().contains("message_state_check"), "{err}");
    }

    #[test]
    fn every_state_quoted_in_the_stores_sql_is_a_state() {
        let sources = [
            include_str!("sqlite/attempt.rs"),
            include_str!("sqlite/event.rs"),
            include_str!("sqlite/fallback.rs"),
            include_str!("sqlite/health.rs"),
            include_str!("sqlite/message.rs"),
            include_str!("sqlite/overview.rs"),
            include_str!("sqlite/prune.rs"),
            include_str!("sqlite/read.rs"),
            include_str!("sqlite/receipt.rs"),
            include_str!("sqlite/sweep.rs"),
            include_str!("postgres/attempt.rs"),
            include_str!("postgres/fallback.rs"),
            include_str!("postgres/health.rs"),
            include_str!("postgres/message.rs"),
            include_str!("postgres/overview.rs"),
            include_str!("postgres/prune.rs"),
            include_str!("postgres/read.rs"),
            include_str!("postgres/receipt.rs"),
            include_str!("postgres/sweep.rs"),
        ];
        let mut seen = 0;
        for source in sources {
            // The code, not its tests, which write words that are not states on purpose.
            let source = source.split("#[cfg(test)]").next().unwrap_or_default();
            for term in ["state = '", "state <> '"] {
                for rest in source.split(term).skip(1) {
                    let word = rest.split('\'').next().unwrap_or_default();
                    assert!(word.parse::<MessageState>().is_ok(), "{word:?}");
                    seen += 1;
                }
            }
            for list in source
                .split("state IN (")
                .skip(1)
                .chain(source.split("state NOT IN (").skip(1))
            {
                let list = list.split(')').next().unwrap_or_default();
                for word in list.split(',') {
                    let word = word.trim().trim_matches('\'');
                    assert!(word.parse::<MessageState>().is_ok(), "{word:?}");
                    seen += 1;
                }
            }
        }
        assert!(seen > 50, "{seen}");
    }
}

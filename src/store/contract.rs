//! [`Store`]'s methods, each a `match` over the backend (see the module docs of
//! [`super`]): the docs here are the contract both backends keep, and `conformance` runs
//! the store's tests against each.

use std::collections::{HashMap, HashSet};
use std::time::Duration;

use super::approval::ApprovalAct;
use super::open::Ledger;
use super::*;
use crate::account::{PasswordHash, Role};

/// Calls the backend's method of the same name.
macro_rules! dispatch {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match &$self.ledger {
            Ledger::Sqlite(l) => l.$method($($arg),*).await,
            Ledger::Postgres(l) => l.$method($($arg),*).await,
        }
    };
}

/// [`dispatch!`] for a method that writes: on PostgreSQL, a failure that says the ledger
/// does not take writes is kept for [`Store::write_failure`] (SQLite's writer keeps its own,
/// see `sqlite::connection`).
macro_rules! dispatch_write {
    ($self:ident . $method:ident ( $($arg:expr),* )) => {
        match &$self.ledger {
            Ledger::Sqlite(l) => l.$method($($arg),*).await,
            Ledger::Postgres(l) => l.$method($($arg),*).await.inspect_err(|e| l.note_error(e)),
        }
    };
}

impl Store {
    // Campaigns (campaign.rs).

    /// Inserts or updates a campaign as loaded now from its file.
    ///
    /// `loaded_at` is the wall clock: it records when the file was read, which is a fact
    /// about this machine even under `simulate`'s virtual time.
    pub async fn upsert_campaign(&self, c: &CampaignRow) -> anyhow::Result<()> {
        dispatch_write!(self.upsert_campaign(c))
    }

    /// The steps of `campaign` the ledger knows (those with an occurrence enqueued or
    /// missed), sorted, for `retry`'s check of `--step`.
    pub async fn steps_of(&self, campaign: &str) -> anyhow::Result<Vec<String>> {
        dispatch!(self.steps_of(campaign))
    }

    // Occurrences (occurrence.rs).

    /// Gets the occurrence `n` of a step, creating it at `at` if it is new. An existing
    /// row keeps the instant it was created with.
    pub async fn occurrence(
        &self,
        campaign: &str,
        step: &str,
        n: u32,
        at: Millis,
    ) -> anyhow::Result<OccurrenceRow> {
        dispatch_write!(self.occurrence(campaign, step, n, at))
    }

    /// The occurrence `n` of a step, if it was ever seen.
    pub async fn find_occurrence(
        &self,
        campaign: &str,
        step: &str,
        n: u32,
    ) -> anyhow::Result<Option<OccurrenceRow>> {
        dispatch!(self.find_occurrence(campaign, step, n))
    }

    /// Records that an occurrence was missed (first seen too late); it will not be sent.
    pub async fn mark_missed(&self, occurrence_id: i64, now: Millis) -> anyhow::Result<()> {
        dispatch_write!(self.mark_missed(occurrence_id, now))
    }

    /// Marks an occurrence fully expanded. Only the first call sets the time.
    pub async fn mark_enqueued(&self, occurrence_id: i64, now: Millis) -> anyhow::Result<()> {
        dispatch_write!(self.mark_enqueued(occurrence_id, now))
    }

    // Messages: insert and claim (message.rs).

    /// Inserts messages that do not exist yet — one per (campaign, step, occurrence,
    /// recipient, channel) — in one transaction. Returns how many rows were inserted:
    /// calling it again with the same rows inserts nothing. A row's birth needs no event:
    /// it is the row's `queued_at` and the state it was inserted in.
    pub async fn insert_messages(&self, rows: &[NewMessage], now: Millis) -> anyhow::Result<u64> {
        dispatch_write!(self.insert_messages(rows, now))
    }

    /// Leases up to `limit` due messages (`pending`, `next_attempt_at <= now`, window still
    /// open at `now`, on one of `channels`, or any channel when empty) to `owner` until
    /// `now + lease`: each moves to `sending` and its `attempts` goes up by one — the
    /// fencing token its outcome must carry. Oldest due first. Durable on return, before
    /// any network I/O. Messages whose window closed are left to [`Store::expire_closed`].
    pub async fn claim(
        &self,
        owner: &str,
        now: Millis,
        lease: Duration,
        limit: u32,
        channels: &[String],
    ) -> anyhow::Result<Vec<Claimed>> {
        dispatch_write!(self.claim(owner, now, lease, limit, channels))
    }

    /// [`Store::claim`] on one channel of one campaign: what the pump asks for when that
    /// channel has room.
    pub async fn claim_channel(
        &self,
        owner: &str,
        now: Millis,
        lease: Duration,
        limit: u32,
        campaign: &str,
        channel: &str,
    ) -> anyhow::Result<Vec<Claimed>> {
        dispatch_write!(self.claim_channel(owner, now, lease, limit, campaign, channel))
    }

    // Outcomes (attempt.rs).

    /// Applies outcomes in one transaction: each moves its message on (`sent`, back to
    /// `pending` at the retry time or as it was when released, `failed`, `skipped`,
    /// `expired`), with an `attempt` row
    /// for tries that reached the provider and an event for every change. Outcomes whose
    /// fence no longer holds are ignored. Returns how many applied.
    pub async fn record(&self, outcomes: &[Outcome], now: Millis) -> anyhow::Result<u64> {
        dispatch_write!(self.record(outcomes, now))
    }

    /// [`Store::record`], and in the same transaction the step's fallback for each of
    /// `fallbacks` (rows offered by outcomes that ended a step channel's message `failed`,
    /// `fallback_of` naming it) whose outcome applied and whose recipient the ledger then
    /// shows no step channel reached (see [`super::fallback`]).
    pub async fn record_with_fallbacks(
        &self,
        outcomes: &[Outcome],
        fallbacks: &[NewMessage],
        now: Millis,
    ) -> anyhow::Result<u64> {
        dispatch_write!(self.record_with_fallbacks(outcomes, fallbacks, now))
    }

    // Sweeps (sweep.rs).

    /// Rescues leases that ran out before their outcome was recorded (the worker died or
    /// hung): back to `pending`, due now, or `failed` once `attempts >= max_attempts`.
    /// The attempt stays counted — it may have reached the provider.
    pub async fn rescue_expired(&self, now: Millis, max_attempts: u32) -> anyhow::Result<u64> {
        dispatch_write!(self.rescue_expired(now, max_attempts))
    }

    /// Graceful shutdown: gives back every lease `owner` holds. The rows return to
    /// `pending` with their attempt un-counted, since the try never happened.
    pub async fn release(&self, owner: &str, now: Millis) -> anyhow::Result<u64> {
        dispatch_write!(self.release(owner, now))
    }

    /// Expires `pending` messages whose window closed (`expires_at < now`).
    ///
    /// On SQLite, finding them reads every pending row, so it happens outside the writer
    /// turn (WAL readers do not block writers); the write then moves only those still
    /// pending. On PostgreSQL it is one statement, safe on every daemon at once.
    pub async fn expire_closed(&self, now: Millis) -> anyhow::Result<u64> {
        dispatch_write!(self.expire_closed(now))
    }

    /// Moves a campaign's messages (one step's, when given) that are in one of `from` to
    /// `to`, ending any lease, with `detail` in each event — cancelling, or pausing as
    /// `pending → cancelled` undone by [`Store::retry`]. A worker holding a lease on a
    /// moved row finds its fence broken and records nothing.
    pub async fn set_state(
        &self,
        campaign: &str,
        step: Option<&str>,
        from: &[MessageState],
        to: MessageState,
        detail: &str,
        now: Millis,
    ) -> anyhow::Result<u64> {
        dispatch_write!(self.set_state(campaign, step, from, to, detail, now))
    }

    /// Puts a campaign's messages (one step's, when given) in `state` — usually `failed` —
    /// back to `pending`, due now, with `attempts` reset to 0 and `last_error` kept.
    /// `sending` is refused: resetting a live lease's attempt would break its fence.
    pub async fn retry(
        &self,
        campaign: &str,
        step: Option<&str>,
        state: MessageState,
        now: Millis,
    ) -> anyhow::Result<u64> {
        dispatch_write!(self.retry(campaign, step, state, now))
    }

    // Reads (read.rs).

    /// Message counts by campaign, step, channel and state, ordered by campaign, step and
    /// channel; every state appears, zeros included. All campaigns when `campaign` is None.
    pub async fn status(&self, campaign: Option<&str>) -> anyhow::Result<Vec<StatusRow>> {
        dispatch!(self.status(campaign))
    }

    /// One row per message of `campaign`, by occurrence time, step and insertion order.
    pub async fn report(&self, campaign: &str) -> anyhow::Result<Vec<ReportRow>> {
        dispatch!(self.report(campaign))
    }

    /// [`Store::report`] a row at a time, as the database hands them over, so a campaign
    /// of millions is written out without being held in memory. Returns how many rows.
    pub async fn report_each(
        &self,
        campaign: &str,
        each: impl FnMut(ReportRow) -> anyhow::Result<()>,
    ) -> anyhow::Result<u64> {
        dispatch!(self.report_each(campaign, each))
    }

    /// Messages of `campaign` that are not final yet (`pending`, `sending`). A campaign is
    /// done only when this is 0 (docs/reliability.md#rule-4).
    pub async fn open_count(&self, campaign: &str) -> anyhow::Result<u64> {
        dispatch!(self.open_count(campaign))
    }

    /// When the dispatcher should next look: the earliest `next_attempt_at` of a `pending`
    /// message whose window is still open at `now` (closed ones wait for
    /// [`Store::expire_closed`], not for a send). May lie in the past: due already.
    pub async fn next_due(&self, now: Millis) -> anyhow::Result<Option<Millis>> {
        dispatch!(self.next_due(now))
    }

    // Health (health.rs).

    /// Succeeds when the database answers a trivial query.
    pub async fn ping(&self) -> anyhow::Result<()> {
        dispatch!(self.ping())
    }

    /// When the oldest message due at `now` became due: the smallest `next_attempt_at` of a
    /// `pending` message at or before `now` whose window is still open. None when nothing
    /// is due. It walks the `message_due` index over every pending message, which takes
    /// about half a second on a SQLite ledger with 500,000 of them; the daemon asks
    /// [`Store::oldest_due_among`] its channels instead.
    pub async fn oldest_due(&self, now: Millis) -> anyhow::Result<Option<Millis>> {
        dispatch!(self.oldest_due(now))
    }

    /// [`Store::oldest_due`] among the messages of `channels` (campaign, channel) only,
    /// in one index seek per channel: `message_due` is ordered by campaign, channel and
    /// due time, so the first due row of each channel is found without walking the rest.
    /// Under a millisecond whatever the backlog (measured on SQLite).
    pub async fn oldest_due_among(
        &self,
        now: Millis,
        channels: &[(&str, &str)],
    ) -> anyhow::Result<Option<Millis>> {
        dispatch!(self.oldest_due_among(now, channels))
    }

    /// Message counts by campaign, channel and state (states with no message left out),
    /// ordered by campaign, channel and state (byte order on both backends), each with its
    /// latest change. One walk over every message: about a second with 2,000,000 of them
    /// on SQLite, so the HTTP side keeps a slow count for a while (`web::figures`).
    pub async fn state_counts(&self) -> anyhow::Result<Vec<StateCount>> {
        dispatch!(self.state_counts())
    }

    // Receipts (receipt.rs).

    /// Applies `receipt` at `now`: records its callback id, and moves the message it names
    /// if that message is `sent`, with a `message_event`. A replay writes nothing.
    pub async fn apply_receipt(
        &self,
        receipt: &DeliveryReceipt<'_>,
        now: Millis,
    ) -> anyhow::Result<ReceiptOutcome> {
        dispatch_write!(self.apply_receipt(receipt, now))
    }

    /// [`Store::apply_receipt`] for several receipts, each at its own time, in one
    /// transaction: a burst of callbacks costs one commit, not one each. The outcomes
    /// come back in order; a callback id twice in the batch applies once (the second is a
    /// replay).
    pub async fn apply_receipts(
        &self,
        receipts: &[(DeliveryReceipt<'_>, Millis)],
    ) -> anyhow::Result<Vec<ReceiptOutcome>> {
        dispatch_write!(self.apply_receipts(receipts))
    }

    /// Applies the receipts kept in `receipt_early` whose message is now `sent`, and drops
    /// those whose message ended otherwise or that arrived before `stale`. Returns how many
    /// were applied. Reads first and writes only when there is something to do.
    pub async fn apply_early_receipts(&self, stale: Millis, now: Millis) -> anyhow::Result<u64> {
        dispatch_write!(self.apply_early_receipts(stale, now))
    }

    /// Forgets callback ids recorded before `before`; returns how many. Safe once
    /// `before` is older than the signature tolerance: such a replay is refused as stale.
    pub async fn prune_callbacks(&self, before: Millis) -> anyhow::Result<u64> {
        dispatch_write!(self.prune_callbacks(before))
    }

    // Suppressions (suppression.rs).

    /// Records `s` at `now`; true when the address was not suppressed before (the first
    /// suppression of an address is kept, later ones change nothing).
    pub async fn suppress(&self, s: &Suppression<'_>, now: Millis) -> anyhow::Result<bool> {
        dispatch_write!(self.suppress(s, now))
    }

    /// Whether `address` must not be sent to.
    pub async fn is_suppressed(&self, address: &str) -> anyhow::Result<bool> {
        dispatch!(self.is_suppressed(address))
    }

    /// Those of `addresses` (as given) that must not be sent to: one fixed statement for a
    /// claimed batch, whatever its size. Case is ignored as the backend's collation does
    /// (ASCII on SQLite, every script on PostgreSQL; see each backend's `suppression`).
    pub async fn suppressed_among(&self, addresses: &[String]) -> anyhow::Result<HashSet<String>> {
        dispatch!(self.suppressed_among(addresses))
    }

    /// The message `message_id` names, for an unsubscribe link.
    pub async fn unsubscribe_target(
        &self,
        message_id: &str,
    ) -> anyhow::Result<Option<UnsubscribeTarget>> {
        dispatch!(self.unsubscribe_target(message_id))
    }

    // Settings (kv.rs).

    /// The value stored under `key`, if any.
    pub async fn kv_get(&self, key: &str) -> anyhow::Result<Option<String>> {
        dispatch!(self.kv_get(key))
    }

    /// Stores `value` under `key`, replacing any previous value; durable on return.
    pub async fn kv_put(&self, key: &str, value: &str, now: Millis) -> anyhow::Result<()> {
        dispatch_write!(self.kv_put(key, value, now))
    }

    // Operator holds (pause.rs).

    /// Holds `campaign` at `now` on behalf of `by` (the dashboard's "pause"). Returns
    /// whether it was not held before. The campaign must be known to the ledger.
    pub async fn hold_campaign(
        &self,
        campaign: &str,
        by: &str,
        now: Millis,
    ) -> anyhow::Result<bool> {
        dispatch_write!(self.hold_campaign(campaign, by, now))
    }

    /// Lifts the operator hold of `campaign` (the dashboard's "resume"). Returns whether it
    /// was held.
    pub async fn release_campaign(&self, campaign: &str) -> anyhow::Result<bool> {
        dispatch_write!(self.release_campaign(campaign))
    }

    /// The campaigns an operator holds.
    pub async fn held_campaigns(&self) -> anyhow::Result<HashSet<String>> {
        dispatch!(self.held_campaigns())
    }

    // The dashboard (overview.rs).

    /// Every campaign row, by id.
    pub async fn campaign_rows(&self) -> anyhow::Result<Vec<CampaignRow>> {
        dispatch!(self.campaign_rows())
    }

    /// The campaign row `id`, if loaded once.
    pub async fn campaign_row(&self, id: &str) -> anyhow::Result<Option<CampaignRow>> {
        dispatch!(self.campaign_row(id))
    }

    /// The occurrences of `campaign` recorded so far, by time and step, with the states
    /// of their messages.
    pub async fn occurrence_figures(
        &self,
        campaign: &str,
    ) -> anyhow::Result<Vec<OccurrenceFigures>> {
        dispatch!(self.occurrence_figures(campaign))
    }

    /// `campaign`'s messages by step, channel and state (as [`Store::status`] counts
    /// them) and its occurrences as [`Store::occurrence_figures`] gives them, from one walk
    /// over the campaign's messages: the dashboard's campaign page needs both.
    pub async fn campaign_breakdown(
        &self,
        campaign: &str,
    ) -> anyhow::Result<(Vec<StatusRow>, Vec<OccurrenceFigures>)> {
        dispatch!(self.campaign_breakdown(campaign))
    }

    /// The `limit` most recently failed messages of `campaign`, newest first.
    pub async fn failed_messages(
        &self,
        campaign: &str,
        limit: u32,
    ) -> anyhow::Result<Vec<FailedMessage>> {
        dispatch!(self.failed_messages(campaign, limit))
    }

    /// Messages of `campaign`'s `steps` that reached their provider (`sent` or
    /// `delivered`), counted by recipient key.
    pub async fn reached_by_recipient(
        &self,
        campaign: &str,
        steps: &[String],
    ) -> anyhow::Result<HashMap<String, u64>> {
        dispatch!(self.reached_by_recipient(campaign, steps))
    }

    // Audit (audit.rs).

    /// Appends `entry` at `now`; durable on return. Returns the row id.
    pub async fn audit(&self, entry: &AuditEntry<'_>, now: Millis) -> anyhow::Result<i64> {
        dispatch_write!(self.audit(entry, now))
    }

    /// The audit trail, oldest first; one campaign's when given.
    pub async fn audit_log(&self, campaign: Option<&str>) -> anyhow::Result<Vec<AuditRow>> {
        dispatch!(self.audit_log(campaign))
    }

    // Staff accounts (account.rs).

    /// Adds an account at `now`. Fails with [`AccountError::Exists`] when the name is
    /// taken, by an enabled or a disabled account.
    pub async fn add_account(
        &self,
        name: &str,
        role: Role,
        hash: &PasswordHash,
        now: Millis,
    ) -> anyhow::Result<()> {
        dispatch_write!(self.add_account(name, role, hash, now))
    }

    /// Replaces the password of account `name` at `now`; its open sessions end. Fails with
    /// [`AccountError::Unknown`] when there is no such account.
    pub async fn set_password(
        &self,
        name: &str,
        hash: &PasswordHash,
        now: Millis,
    ) -> anyhow::Result<()> {
        dispatch_write!(self.set_password(name, hash, now))
    }

    /// Disables account `name` at `now`. Returns whether it was enabled until now
    /// (disabling twice keeps the first time).
    pub async fn disable_account(&self, name: &str, now: Millis) -> anyhow::Result<bool> {
        dispatch_write!(self.disable_account(name, now))
    }

    /// Account `name`, enabled or not.
    pub async fn account(&self, name: &str) -> anyhow::Result<Option<AccountRow>> {
        dispatch!(self.account(name))
    }

    /// Every account, by name.
    pub async fn accounts(&self) -> anyhow::Result<Vec<AccountRow>> {
        dispatch!(self.accounts())
    }

    /// Whether any account exists, enabled or not: while none does, `LOA_ADMIN_TOKEN` is the
    /// way into the dashboard.
    pub async fn has_accounts(&self) -> anyhow::Result<bool> {
        dispatch!(self.has_accounts())
    }

    // Four-eyes approval (approval.rs): the backends store and read the rows, the counting
    // is [`VersionApproval`]'s, the same on both.

    /// Records that `step.account` requests approval of the version `step.hash`, with its
    /// audit row in the same transaction. Requesting again is no new row.
    pub async fn request_approval(
        &self,
        step: &ApprovalStep<'_>,
        now: Millis,
    ) -> anyhow::Result<()> {
        dispatch_write!(self.approval_row(step, ApprovalAct::Request, now))
    }

    /// Records `step.account`'s approval of the version `step.hash` (with its audit row)
    /// and returns where the version stands now. Refused when nobody requested it
    /// ([`ApprovalError::NotRequested`]), or when the account requested it itself
    /// ([`ApprovalError::OwnRequest`]).
    pub async fn approve(
        &self,
        step: &ApprovalStep<'_>,
        now: Millis,
    ) -> anyhow::Result<VersionApproval> {
        let before = self.version_approval(step.campaign, step.hash).await?;
        if before.requested_by.is_empty() {
            return Err(ApprovalError::NotRequested(step.campaign.to_owned()).into());
        }
        if before.requested_by.iter().any(|a| a == step.account) {
            return Err(ApprovalError::OwnRequest(step.account.to_owned()).into());
        }
        dispatch_write!(self.approval_row(step, ApprovalAct::Approve, now))?;
        self.version_approval(step.campaign, step.hash).await
    }

    /// Where the version `hash` of `campaign` stands.
    pub async fn version_approval(
        &self,
        campaign: &str,
        hash: &str,
    ) -> anyhow::Result<VersionApproval> {
        let rows = dispatch!(self.approval_rows(campaign, hash))?;
        Ok(VersionApproval::of(rows))
    }

    /// The approval hash of the version of `campaign` approved last, and when.
    pub async fn last_approved(&self, campaign: &str) -> anyhow::Result<Option<(String, Millis)>> {
        let hashes = dispatch!(self.approved_hashes(campaign))?;
        let mut best: Option<(String, Millis)> = None;
        for hash in hashes {
            if let Some(at) = self.version_approval(campaign, &hash).await?.approved_at
                && best.as_ref().is_none_or(|(_, b)| at > *b)
            {
                best = Some((hash, at));
            }
        }
        Ok(best)
    }

    // Retention (prune.rs).

    /// How many messages [`Store::prune_personal_data`] would clear for `before` (one walk
    /// over the ledger).
    pub async fn prunable(&self, before: Millis) -> anyhow::Result<u64> {
        dispatch!(self.prunable(before))
    }

    /// Clears the personal data of every message that ended before `before` (see the
    /// module docs), stamping it `now`, `batch` ids per write; `progress` hears the
    /// messages pruned so far after each write. Pruning again finds nothing new.
    pub async fn prune_personal_data(
        &self,
        before: Millis,
        now: Millis,
        batch: u32,
        progress: impl FnMut(u64),
    ) -> anyhow::Result<Pruned> {
        dispatch_write!(self.prune_personal_data(before, now, batch, progress))
    }
}

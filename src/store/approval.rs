//! `approval`: who asked for which version of a campaign to be approved, and who approved it
//! (four-eyes approval, issue 17, docs/approval.md).
//!
//! A version is named by its approval hash ([`crate::campaign::approval_hash`]). It is
//! approved once someone requested it and as many different accounts as it needs
//! ([`VersionApproval::needed`]), none of them a requester, approved it. Each request and
//! each approval writes its audit row in the same transaction, naming the account. Rows are
//! only ever inserted; the same account acting twice on one version changes nothing.

use anyhow::Context;
use sqlx::Row;

use super::{AuditAction, Millis, Store};

/// Why an approval was refused, for the command or the page to say.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ApprovalError {
    #[error(
        "nobody has requested approval of this version of {0:?}; request it first with \
         `loa submit {0} --user NAME` (or the dashboard's \"request approval\")"
    )]
    NotRequested(String),
    #[error(
        "account {0:?} requested approval of this version and cannot also approve it: \
         another approver must (four eyes, docs/approval.md)"
    )]
    OwnRequest(String),
}

/// What the ledger holds about one version (hash) of one campaign.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionApproval {
    /// Accounts that requested approval, oldest first.
    pub requested_by: Vec<String>,
    /// Accounts that approved, oldest first.
    pub approved_by: Vec<String>,
    /// How many different approvers it needs: 1, or 2 with `approval: { second_above }`.
    pub needed: u8,
    /// When the approval that completed it was given.
    pub approved_at: Option<Millis>,
}

impl VersionApproval {
    /// Requested, and approved by enough accounts other than the requesters.
    pub fn is_approved(&self) -> bool {
        self.approved_at.is_some()
    }

    /// Requested and not yet approved by enough accounts.
    pub fn is_awaiting(&self) -> bool {
        !self.requested_by.is_empty() && !self.is_approved()
    }
}

/// One request or approval to record.
#[derive(Clone, Copy, Debug)]
pub struct ApprovalStep<'a> {
    pub campaign: &'a str,
    pub hash: &'a str,
    pub account: &'a str,
    /// Approvers this version needs, as counted now (1 or 2).
    pub needed: u8,
}

impl Store {
    /// Records that `step.account` requests approval of the version `step.hash`, with its
    /// audit row. Requesting again is no new row.
    pub async fn request_approval(
        &self,
        step: &ApprovalStep<'_>,
        now: Millis,
    ) -> anyhow::Result<()> {
        self.approval_row(step, "request", AuditAction::Submit, now)
            .await
    }

    /// Records `step.account`'s approval of the version `step.hash` and returns where the
    /// version stands now. Refused when nobody requested it, or when the account requested
    /// it itself.
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
        self.approval_row(step, "approve", AuditAction::Approve, now)
            .await?;
        self.version_approval(step.campaign, step.hash).await
    }

    async fn approval_row(
        &self,
        step: &ApprovalStep<'_>,
        action: &str,
        audit: AuditAction,
        now: Millis,
    ) -> anyhow::Result<()> {
        let mut w = self.write().await?;
        let done = sqlx::query(
            "INSERT INTO approval (campaign, content_hash, action, account, approvers, at) \
             VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
        )
        .bind(step.campaign)
        .bind(step.hash)
        .bind(action)
        .bind(step.account)
        .bind(i64::from(step.needed.clamp(1, 2)))
        .bind(now)
        .execute(&mut *w.tx)
        .await
        .context("recording the approval")?;
        if done.rows_affected() > 0 {
            let detail = match audit {
                AuditAction::Submit => format!("{} requested approval", step.account),
                _ => format!("{} approved", step.account),
            };
            sqlx::query(
                "INSERT INTO audit (at, actor, action, campaign, content_hash, detail) \
                 VALUES (?, ?, ?, ?, ?, ?)",
            )
            .bind(now)
            .bind(step.account)
            .bind(audit.as_str())
            .bind(step.campaign)
            .bind(step.hash)
            .bind(detail)
            .execute(&mut *w.tx)
            .await
            .context("appending to the audit trail")?;
        }
        w.commit().await
    }

    /// Where the version `hash` of `campaign` stands.
    pub async fn version_approval(
        &self,
        campaign: &str,
        hash: &str,
    ) -> anyhow::Result<VersionApproval> {
        let rows = sqlx::query(
            "SELECT action, account, approvers, at FROM approval \
             WHERE campaign = ? AND content_hash = ? ORDER BY id",
        )
        .bind(campaign)
        .bind(hash)
        .fetch_all(self.pool())
        .await
        .context("reading the approvals")?;
        let mut v = VersionApproval {
            needed: 1,
            ..VersionApproval::default()
        };
        for row in &rows {
            let account: String = row.try_get("account")?;
            let needed: i64 = row.try_get("approvers")?;
            v.needed = v.needed.max(needed.clamp(1, 2) as u8);
            match row.try_get::<String, _>("action")?.as_str() {
                "request" => v.requested_by.push(account),
                _ => v.approved_by.push(account),
            }
            let valid = v
                .approved_by
                .iter()
                .filter(|a| !v.requested_by.contains(a))
                .count();
            if v.approved_at.is_none() && !v.requested_by.is_empty() && valid >= v.needed.into() {
                v.approved_at = Some(row.try_get("at")?);
            }
        }
        Ok(v)
    }

    /// The approval hash of the version of `campaign` approved last, and when.
    pub async fn last_approved(&self, campaign: &str) -> anyhow::Result<Option<(String, Millis)>> {
        let hashes: Vec<String> = sqlx::query_scalar(
            "SELECT content_hash FROM approval WHERE campaign = ? AND action = 'approve' \
             GROUP BY content_hash ORDER BY max(id) DESC",
        )
        .bind(campaign)
        .fetch_all(self.pool())
        .await
        .context("reading the approvals")?;
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
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::*;

    fn step<'a>(account: &'a str, needed: u8) -> ApprovalStep<'a> {
        ApprovalStep {
            campaign: "c1",
            hash: "h1",
            account,
            needed,
        }
    }

    #[tokio::test]
    async fn a_version_is_approved_by_another_account_than_the_requester() {
        let (_dir, store) = open().await;
        store.request_approval(&step("lan", 1), 10).await.unwrap();
        assert!(
            store
                .version_approval("c1", "h1")
                .await
                .unwrap()
                .is_awaiting()
        );
        let own = store.approve(&step("lan", 1), 11).await.unwrap_err();
        assert_eq!(
            own.downcast_ref::<ApprovalError>(),
            Some(&ApprovalError::OwnRequest("lan".into()))
        );
        let v = store.approve(&step("minh", 1), 12).await.unwrap();
        assert!(v.is_approved());
        assert_eq!(v.approved_at, Some(12));
        assert_eq!(
            store.last_approved("c1").await.unwrap(),
            Some(("h1".into(), 12))
        );
        let trail = store.audit_log(Some("c1")).await.unwrap();
        let named: Vec<(&str, &str)> = trail
            .iter()
            .map(|r| (r.actor.as_str(), r.action.as_str()))
            .collect();
        assert_eq!(named, [("lan", "submit"), ("minh", "approve")]);
    }

    #[tokio::test]
    async fn an_approval_without_a_request_is_refused() {
        let (_dir, store) = open().await;
        let e = store.approve(&step("minh", 1), 1).await.unwrap_err();
        assert_eq!(
            e.downcast_ref::<ApprovalError>(),
            Some(&ApprovalError::NotRequested("c1".into()))
        );
        assert_eq!(store.last_approved("c1").await.unwrap(), None);
    }

    #[tokio::test]
    async fn a_version_that_needs_two_approvers_waits_for_a_second_different_one() {
        let (_dir, store) = open().await;
        store.request_approval(&step("lan", 2), 10).await.unwrap();
        let v = store.approve(&step("minh", 2), 11).await.unwrap();
        assert!(v.is_awaiting());
        let again = store.approve(&step("minh", 2), 12).await.unwrap();
        assert!(
            again.is_awaiting(),
            "the same approver twice is one approval"
        );
        let v = store.approve(&step("hoa", 2), 13).await.unwrap();
        assert!(v.is_approved());
        assert_eq!(v.approved_by, ["minh", "hoa"]);
    }
}

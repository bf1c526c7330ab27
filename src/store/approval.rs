//! `approval`: who asked for which version of a campaign to be approved, and who approved it
//! (four-eyes approval, issue 17, docs/approval.md).
//!
//! A version is named by its approval hash ([`crate::campaign::approval_hash`]). It is
//! approved once someone requested it and as many different accounts as it needs
//! ([`VersionApproval::needed`]), none of them a requester, approved it. Each request and
//! each approval writes its audit row in the same transaction, naming the account. Rows are
//! only ever inserted; the same account acting twice on one version changes nothing.
//!
//! The types and the counting are here, the same on both backends; each backend's
//! `approval.rs` has the SQL, and `contract` the public methods.

use super::{AuditAction, Millis};

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

/// One stored request or approval, as either backend reads it: its action (`request` or
/// `approve`), account, approvers needed and time, oldest first.
pub(crate) type Stored = (String, String, i64, Millis);

impl VersionApproval {
    /// Where a version stands after its stored rows, oldest first: approved at the row whose
    /// approval made enough accounts other than the requesters.
    pub(crate) fn of(rows: Vec<Stored>) -> VersionApproval {
        let mut v = VersionApproval {
            needed: 1,
            ..VersionApproval::default()
        };
        for (action, account, needed, at) in rows {
            v.needed = v.needed.max(needed.clamp(1, 2) as u8);
            match action.as_str() {
                "request" => v.requested_by.push(account),
                _ => v.approved_by.push(account),
            }
            let valid = v
                .approved_by
                .iter()
                .filter(|a| !v.requested_by.contains(a))
                .count();
            if v.approved_at.is_none() && !v.requested_by.is_empty() && valid >= v.needed.into() {
                v.approved_at = Some(at);
            }
        }
        v
    }
}

/// What a request or an approval writes: the row's action, its audit action and the audit
/// row's detail.
pub(crate) enum ApprovalAct {
    Request,
    Approve,
}

impl ApprovalAct {
    pub(crate) fn action(&self) -> &'static str {
        match self {
            ApprovalAct::Request => "request",
            ApprovalAct::Approve => "approve",
        }
    }

    pub(crate) fn audit(&self) -> AuditAction {
        match self {
            ApprovalAct::Request => AuditAction::Submit,
            ApprovalAct::Approve => AuditAction::Approve,
        }
    }

    pub(crate) fn detail(&self, account: &str) -> String {
        match self {
            ApprovalAct::Request => format!("{account} requested approval"),
            ApprovalAct::Approve => format!("{account} approved"),
        }
    }
}

//! The public types of the ledger's smaller tables and answers, the same on both
//! backends (the main ones are in [`super`]'s root; receipts have [`super::receipt`], the
//! dashboard's figures [`super::overview`]).

use super::{MessageState, Millis};

// Audit (`audit`).

/// What was done, as stored in `audit.action`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AuditAction {
    Launch,
    Pause,
    Resume,
    Cancel,
    Edit,
    Retry,
    Login,
    Logout,
    /// `loa user add` (issue 17); the detail names the account and its role.
    UserAdd,
    /// `loa user passwd`; the detail names the account, never the password.
    UserPasswd,
    /// `loa user disable`; the detail names the account.
    UserDisable,
    /// `loa submit` or the dashboard's "request approval"; the actor is the account.
    Submit,
    /// `loa approve` or the dashboard's "approve"; the actor is the account.
    Approve,
}

impl AuditAction {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Launch => "launch",
            Self::Pause => "pause",
            Self::Resume => "resume",
            Self::Cancel => "cancel",
            Self::Edit => "edit",
            Self::Retry => "retry",
            Self::Login => "login",
            Self::Logout => "logout",
            Self::UserAdd => "user_add",
            Self::UserPasswd => "user_passwd",
            Self::UserDisable => "user_disable",
            Self::Submit => "submit",
            Self::Approve => "approve",
        }
    }
}

/// One entry to append.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditEntry<'a> {
    /// Who: an account name, `token` (a `LOA_ADMIN_TOKEN` login), `cli:<user>`; never a
    /// recipient.
    pub actor: &'a str,
    pub action: AuditAction,
    pub campaign: Option<&'a str>,
    /// [`super::content_hash`] of the campaign file acted on.
    pub content_hash: Option<&'a str>,
    /// Recipients the action concerns, when known.
    pub audience: Option<u64>,
    pub detail: Option<&'a str>,
}

/// One stored audit row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AuditRow {
    pub id: i64,
    pub at: Millis,
    pub actor: String,
    pub action: String,
    pub campaign: Option<String>,
    pub content_hash: Option<String>,
    pub audience: Option<u64>,
    pub detail: Option<String>,
}

// Health (`health`).

/// Messages of one campaign on one channel in one state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StateCount {
    pub campaign: String,
    pub channel: String,
    pub state: MessageState,
    pub count: u64,
    /// The latest `updated_at` among them.
    pub last_change: Millis,
}

// Retention (`prune`).

/// Messages looked at per write.
pub(crate) const PRUNE_BATCH: u32 = 10_000;

/// What one prune did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Pruned {
    /// Messages whose personal data was cleared.
    pub messages: u64,
    /// Writes it took.
    pub batches: u64,
}

// Suppressions (`suppression`).

/// Why an address is suppressed, as stored in `suppression.reason`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuppressionReason {
    Unsubscribed,
    Bounced,
    Complained,
    Operator,
}

impl SuppressionReason {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Unsubscribed => "unsubscribed",
            Self::Bounced => "bounced",
            Self::Complained => "complained",
            Self::Operator => "operator",
        }
    }
}

/// A suppression to record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Suppression<'a> {
    pub address: &'a str,
    /// `smtp`, `zalo_zns`, `webhook`; None for every channel.
    pub channel_kind: Option<&'a str>,
    pub reason: SuppressionReason,
    /// The `message_id` whose link or receipt caused it.
    pub message: Option<&'a str>,
}

/// The message an unsubscribe link names, as the page needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UnsubscribeTarget {
    pub campaign: String,
    pub channel: String,
    pub address: Option<String>,
}

//! `account`: staff accounts (issue 17, docs/accounts.md) — a name, a role, an Argon2id
//! password hash, and when the account was disabled. The types here are the same on both
//! backends; each backend's `account.rs` has the SQL.
//!
//! Rows are never deleted: the audit trail names accounts, so a name, once taken, stays
//! taken (a disabled account cannot log in, and its sessions end at their next request).
//! Names, roles and hashes are checked and made in [`crate::account`]; this file only
//! keeps them. Who changed an account goes to the audit trail (the caller writes that row).

use super::Millis;
use crate::account::{PasswordHash, Role};

/// One account as stored.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountRow {
    pub name: String,
    pub role: Role,
    /// Prints as `[REDACTED]`.
    pub password_hash: PasswordHash,
    pub created_at: Millis,
    /// When the password was last set: sessions opened before it end.
    pub password_at: Millis,
    pub disabled_at: Option<Millis>,
}

impl AccountRow {
    pub fn is_disabled(&self) -> bool {
        self.disabled_at.is_some()
    }
}

/// Why an account change was refused, for the command to say.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountError {
    #[error("account {0:?} already exists; change its password with `loa user passwd {0}`")]
    Exists(String),
    #[error("there is no account {0:?}; `loa user list` shows the accounts")]
    Unknown(String),
}

/// The columns an [`AccountRow`] is read from, in the order of [`Stored`].
pub(crate) const COLUMNS: &str = "name, role, password_hash, created_at, password_at, disabled_at";

/// An account row as either backend reads it ([`COLUMNS`]).
pub(crate) type Stored = (String, String, String, Millis, Millis, Option<Millis>);

/// The account a stored row holds; its role must be one loa knows.
pub(crate) fn account_row(stored: Stored) -> anyhow::Result<AccountRow> {
    let (name, role, password_hash, created_at, password_at, disabled_at) = stored;
    Ok(AccountRow {
        name,
        role: role
            .parse()
            .map_err(|e: String| anyhow::anyhow!("account.role: {e}"))?,
        password_hash: PasswordHash::from_stored(password_hash),
        created_at,
        password_at,
        disabled_at,
    })
}

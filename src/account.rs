//! Staff accounts (issue 17, docs/accounts.md): what a role allows, which names an account
//! may have, and passwords — hashed with Argon2id into PHC strings, verified in constant
//! time.
//!
//! A leaf: `store` keeps the accounts (`store::account`), `cli::user` manages them and
//! `web::session` logs them in; all three read roles, names and passwords here, so the
//! rules are written once.
//!
//! Roles are ordered, each allowing what the ones below it allow: `viewer` sees the
//! dashboard; `operator` also pauses, resumes and retries; `approver` also approves
//! (issue 17's four-eyes approval); `admin` also manages accounts. Whoever may approve may
//! therefore operate: the four-eyes rule is about two different people, not two kinds of
//! people.
//!
//! Hashes are Argon2id with the `argon2` crate's defaults (19 MiB, 2 passes, 1 lane: the
//! OWASP password storage cheat sheet's first choice) and a 16-byte salt from the
//! operating system. Neither a password nor its hash is ever in a log line or a `Debug`
//! text: both types here print as `[REDACTED]`.

use std::fmt;
use std::str::FromStr;

use argon2::password_hash::{PasswordHash as Phc, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use unicode_normalization::UnicodeNormalization as _;

/// What an account may do; ordered, each role including the ones before it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Sees every dashboard page.
    Viewer,
    /// Also pauses, resumes and retries campaigns.
    Operator,
    /// Also approves campaigns (nothing awaits approval yet).
    Approver,
    /// Also manages accounts.
    Admin,
}

impl Role {
    /// Every role, lowest first.
    pub const ALL: [Role; 4] = [Role::Viewer, Role::Operator, Role::Approver, Role::Admin];

    /// The word stored in `account.role` and typed after `--role`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Viewer => "viewer",
            Role::Operator => "operator",
            Role::Approver => "approver",
            Role::Admin => "admin",
        }
    }

    /// Whether this role may do what `needed` may.
    pub fn allows(self, needed: Role) -> bool {
        self >= needed
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Role {
    type Err = String;

    fn from_str(s: &str) -> Result<Role, String> {
        Role::ALL
            .into_iter()
            .find(|r| r.as_str() == s)
            .ok_or_else(|| {
                format!(
                    "no role {s:?}; the roles are {}",
                    Role::ALL.map(Role::as_str).join(", ")
                )
            })
    }
}

/// The audit trail's name for whoever logged in with `LOA_ADMIN_TOKEN`; no account may take it.
pub const TOKEN_ACTOR: &str = "token";

/// Longest account name, in bytes.
const MAX_NAME: usize = 64;

/// Checks an account name: 1 to 64 of `a-z`, `0-9`, `.`, `_`, `-`, starting with a letter
/// or digit, and not the token's name. The error names the field and says what to type.
pub fn check_name(name: &str) -> Result<(), String> {
    let hint = "use 1 to 64 lowercase letters a-z, digits, '.', '_' or '-', starting with a \
                letter or digit (e.g. lan.nguyen)";
    let first_ok = name
        .bytes()
        .next()
        .is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    let all_ok = name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if name.is_empty() || name.len() > MAX_NAME || !first_ok || !all_ok {
        return Err(format!("account name {name:?} is not valid: {hint}"));
    }
    if name == TOKEN_ACTOR {
        return Err(format!(
            "account name {name:?} is reserved: the audit trail names LOA_ADMIN_TOKEN logins so; \
             choose another name"
        ));
    }
    Ok(())
}

/// Shortest password accepted, in characters.
pub const MIN_PASSWORD: usize = 10;
/// Longest password accepted, in bytes: hashing is bounded, and it fits the login form.
pub const MAX_PASSWORD: usize = 1024;

/// A password as typed; prints as `[REDACTED]`.
#[derive(Clone, PartialEq, Eq)]
pub struct Password(String);

impl Password {
    /// A new password, checked: at least [`MIN_PASSWORD`] characters, at most
    /// [`MAX_PASSWORD`] bytes, no control characters.
    pub fn new(text: String) -> Result<Password, String> {
        if text.chars().count() < MIN_PASSWORD {
            return Err(format!(
                "the password is too short: use at least {MIN_PASSWORD} characters"
            ));
        }
        if text.len() > MAX_PASSWORD {
            return Err(format!(
                "the password is too long: use at most {MAX_PASSWORD} bytes"
            ));
        }
        if text.chars().any(char::is_control) {
            return Err(
                "the password has a control character (a tab or a line break?): \
                        type it on one line"
                    .to_owned(),
            );
        }
        Ok(Password::given(text))
    }

    /// The password as given at a login, unchecked (it is only compared). Both kinds are
    /// NFC-normalised: a Vietnamese password typed with composed or combining accents
    /// (keyboards differ) is the same password.
    pub fn given(text: String) -> Password {
        Password(text.nfc().collect())
    }

    fn expose(&self) -> &[u8] {
        self.0.as_bytes()
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

/// An Argon2id hash as a PHC string (`$argon2id$v=19$m=…`); prints as `[REDACTED]`.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// A stored PHC string.
    pub fn from_stored(phc: String) -> PasswordHash {
        PasswordHash(phc)
    }

    /// The PHC string, for the ledger only.
    pub fn as_stored(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[REDACTED]")
    }
}

fn hasher() -> Argon2<'static> {
    Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::default())
}

/// Hashes `password` with a fresh salt. Slow on purpose (tens of milliseconds): call it
/// off the async runtime's threads.
pub fn hash(password: &Password) -> anyhow::Result<PasswordHash> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| anyhow::anyhow!("no randomness for a salt: {e}"))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| anyhow::anyhow!("salt: {e}"))?;
    let phc = hasher()
        .hash_password(password.expose(), &salt)
        .map_err(|e| anyhow::anyhow!("hashing the password: {e}"))?;
    Ok(PasswordHash(phc.to_string()))
}

/// Whether `password` matches `stored`; false for a hash that does not parse. Slow on
/// purpose, like [`hash`]. The comparison of the computed and stored hashes is in constant
/// time (`password-hash`'s `Output` compares with `subtle`).
pub fn verify(password: &Password, stored: &PasswordHash) -> bool {
    let Ok(phc) = Phc::new(&stored.0) else {
        return false;
    };
    // The parameters come from the stored string, so older hashes keep verifying after
    // the defaults change.
    Argon2::default()
        .verify_password(password.expose(), &phc)
        .is_ok()
}

/// A hash of no one's password, to verify against when a login names no account, so that
/// an unknown name takes as long as a wrong password.
pub fn decoy() -> &'static PasswordHash {
    static DECOY: std::sync::OnceLock<PasswordHash> = std::sync::OnceLock::new();
    DECOY.get_or_init(|| {
        let mut random = [0u8; 24];
        let _ = getrandom::fill(&mut random);
        let text = random
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>();
        hash(&Password(text)).unwrap_or_else(|_| PasswordHash(String::new()))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_role_allows_what_the_roles_below_it_allow_and_no_more() {
        assert!(Role::Admin.allows(Role::Operator));
        assert!(Role::Approver.allows(Role::Operator));
        assert!(Role::Operator.allows(Role::Viewer));
        assert!(!Role::Viewer.allows(Role::Operator));
        assert!(!Role::Approver.allows(Role::Admin));
        for role in Role::ALL {
            assert_eq!(role.as_str().parse::<Role>(), Ok(role));
        }
        let err = "root".parse::<Role>().unwrap_err();
        assert!(err.contains("viewer, operator, approver, admin"), "{err}");
    }

    #[test]
    fn names_are_lowercase_words_and_the_token_name_is_reserved() {
        for ok in ["lan.nguyen", "op1", "a", "bhxh-hcm_2"] {
            assert_eq!(check_name(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "Lan",
            ".lan",
            "lan nguyen",
            "lân",
            "cli:lan",
            &"a".repeat(65),
        ] {
            let err = check_name(bad).unwrap_err();
            assert!(
                err.contains("account name") && err.contains("e.g."),
                "{err}"
            );
        }
        assert!(check_name("token").unwrap_err().contains("reserved"));
    }

    #[test]
    fn a_password_hashes_to_an_argon2id_phc_string_that_verifies_only_itself() {
        let password = Password::new("đúng mật khẩu 2026".into()).unwrap();
        let stored = hash(&password).unwrap();
        assert!(
            stored
                .as_stored()
                .starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
        );
        assert!(verify(&password, &stored));
        assert!(!verify(
            &Password::given("sai mật khẩu 2026".into()),
            &stored
        ));
        assert!(!verify(
            &password,
            &PasswordHash::from_stored("garbage".into())
        ));
        // Salted: the same password twice gives two hashes.
        assert_ne!(hash(&password).unwrap(), stored);
        assert!(!verify(&password, decoy()));
        // Composed or combining accents: the same password.
        let combining = Password::given("đu\u{301}ng mâ\u{323}t khâ\u{309}u 2026".into());
        assert!(verify(&combining, &stored));
    }

    #[test]
    fn passwords_and_hashes_never_print() {
        let password = Password::new("một mật khẩu dài".into()).unwrap();
        let stored = hash(&password).unwrap();
        let shown = format!("{password:?} {stored:?}");
        assert_eq!(shown, "[REDACTED] [REDACTED]");
    }

    #[test]
    fn short_long_and_multi_line_passwords_are_refused_with_the_rule() {
        assert!(
            Password::new("short".into())
                .unwrap_err()
                .contains("at least 10")
        );
        let long = "x".repeat(MAX_PASSWORD + 1);
        assert!(Password::new(long).unwrap_err().contains("at most 1024"));
        let tab = Password::new("một\tmật khẩu dài".into()).unwrap_err();
        assert!(tab.contains("control character"), "{tab}");
    }
}

//! Staff sessions for the dashboard (docs/http.md#dashboard, docs/accounts.md): the basis
//! of R14 (docs/reliability.md#r14).
//!
//! `POST /login` ([`super::login`]) opens a session with a staff account's name and
//! password (form fields `name` and `password`, verified against the account's Argon2id
//! hash off the async threads, two at a time at most), or — while the ledger has no account yet — with the
//! admin token (form field `token`, compared in constant time), which acts as an `admin`
//! named `token` in the audit trail. A session is a random 256-bit id in the cookie
//! `loa_session` — `HttpOnly`, `SameSite=Strict`, `Path=/`, 8 hours, and `Secure` when the
//! daemon is served over HTTPS — and a random CSRF token that every state-changing form must
//! carry back ([`Staff::check_csrf`]). Sessions live in memory: a restart logs everyone out.
//! After 5 failed logins within 60 s (wrong token, unknown name, wrong password, disabled
//! account alike) a client gets 429 until the window passes. Logins and logouts go to the
//! audit trail, under the account's name.
//!
//! Every request re-reads the session's account: a disabled account, a changed password or
//! (for a token session) a first account ends the session there and then, and the role in
//! force is the one stored now. [`Staff`] is the extractor the dashboard's routes take
//! (`super::dashboard`): without a live session they answer 401 (pages redirect to `/login`
//! instead); [`Staff::require`] answers 403 to a role below the route's ([`super::ROUTES`]).
//! Without `LOA_ADMIN_TOKEN` and without any account the dashboard is off: `/login` and `/`
//! are 404.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Body;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tokio::sync::Semaphore;

use super::WebState;
use super::error::WebError;
use crate::account::{Role, TOKEN_ACTOR};
use crate::store::Millis;

/// The session cookie's name.
pub(crate) const COOKIE: &str = "loa_session";
pub(super) const TTL: Millis = 8 * 3600 * 1000;
const MAX_FAILURES: usize = 5;
const FAILURE_WINDOW: Millis = 60_000;
pub(super) const MAX_FORM: usize = 4 * 1024;
/// Clients with failed logins kept before old ones are swept.
const MAX_CLIENTS: usize = 1024;
/// Password checks at once: each takes 19 MiB and tens of milliseconds of a core.
const HASHING_AT_ONCE: usize = 2;

/// Live sessions and recent failed logins, in memory.
#[derive(Debug)]
pub struct Sessions {
    secure: bool,
    /// SHA-256 of the session id → the session.
    live: Mutex<HashMap<[u8; 32], Live>>,
    /// Client → times of its recent failed logins.
    failures: Mutex<HashMap<String, Vec<Millis>>>,
    /// Turns for password checks.
    pub(super) hashing: Semaphore,
}

/// One open session.
#[derive(Clone, Debug)]
struct Live {
    csrf: String,
    expires: Millis,
    holder: Holder,
}

/// Who logged in.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Holder {
    /// With `LOA_ADMIN_TOKEN`, while no account exists.
    Token,
    /// With an account's password, as it was set at `password_at`.
    Account { name: String, password_at: Millis },
}

impl Sessions {
    /// `secure`: set the cookie's `Secure` attribute (the daemon is reached over HTTPS).
    pub fn new(secure: bool) -> Sessions {
        Sessions {
            secure,
            live: Mutex::default(),
            failures: Mutex::default(),
            hashing: Semaphore::new(HASHING_AT_ONCE),
        }
    }

    /// Opens a session for `holder` at `now`: (cookie value, CSRF token).
    pub(super) fn open(&self, holder: Holder, now: Millis) -> Result<(String, String), WebError> {
        let (id, csrf) = (random()?, random()?);
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|_, l| l.expires > now);
        let session = Live {
            csrf: csrf.clone(),
            expires: now + TTL,
            holder,
        };
        live.insert(digest(&id), session);
        Ok((id, csrf))
    }

    /// The live session `id`.
    fn get(&self, id: &str, now: Millis) -> Option<Live> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.get(&digest(id)).filter(|l| l.expires > now).cloned()
    }

    pub(super) fn close(&self, id: &str) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.remove(&digest(id));
    }

    /// Whether `client` has used up its failed logins at `now`.
    pub(super) fn blocked(&self, client: &str, now: Millis) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let recent = failures.entry(client.to_owned()).or_default();
        recent.retain(|t| now - t < FAILURE_WINDOW);
        recent.len() >= MAX_FAILURES
    }

    pub(super) fn failed(&self, client: &str, now: Millis) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded memory under many clients: forget those with no recent failure.
        if failures.len() >= MAX_CLIENTS {
            failures.retain(|_, times| times.iter().any(|t| now - t < FAILURE_WINDOW));
        }
        failures.entry(client.to_owned()).or_default().push(now);
    }

    pub(super) fn cookie(&self, value: &str, max_age: i64) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!(
            "{COOKIE}={value}; Path=/; HttpOnly; SameSite=Strict; Max-Age={max_age}{secure}"
        );
        // Ids are base64url and the rest is ours: always a valid header value.
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// 32 random bytes, base64url.
fn random() -> Result<String, WebError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes)
        .map_err(|e| WebError::internal(anyhow::anyhow!("no randomness: {e}")))?;
    Ok(URL_SAFE_NO_PAD.encode(bytes))
}

fn digest(id: &str) -> [u8; 32] {
    Sha256::digest(id.as_bytes()).into()
}

/// A request from a logged-in staff member.
#[derive(Clone, Debug)]
pub(crate) struct Staff {
    pub csrf: String,
    pub(super) session: String,
    /// Who the audit trail names: the account, or `token`.
    pub actor: String,
    /// The role in force now.
    pub role: Role,
}

impl Staff {
    /// Refuses (403) a request from a role below `needed`.
    pub(crate) fn require(&self, needed: Role) -> Result<(), WebError> {
        if self.role.allows(needed) {
            Ok(())
        } else {
            Err(WebError::Forbidden)
        }
    }

    /// Refuses (403) a state change whose form or `X-CSRF-Token` did not carry this
    /// session's CSRF token.
    pub(crate) fn check_csrf(&self, given: Option<&str>) -> Result<(), WebError> {
        let ok = given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(self.csrf.as_bytes())));
        if ok { Ok(()) } else { Err(WebError::Forbidden) }
    }

    /// Reads a small form body (at most 4 KiB) and refuses it (403) unless its `csrf`
    /// field, or the `X-CSRF-Token` header, carries this session's token.
    pub(crate) async fn check_form(&self, headers: &HeaderMap, body: Body) -> Result<(), WebError> {
        self.checked_form(headers, body).await.map(|_| ())
    }

    /// [`Staff::check_form`], returning the form's bytes for the other fields.
    pub(crate) async fn checked_form(
        &self,
        headers: &HeaderMap,
        body: Body,
    ) -> Result<Vec<u8>, WebError> {
        let form = super::read_limited(body, headers, MAX_FORM).await?;
        let given = field(&form, "csrf").or_else(|| {
            let h = headers.get("x-csrf-token")?.to_str().ok()?;
            Some(h.to_owned())
        });
        self.check_csrf(given.as_deref())?;
        Ok(form.to_vec())
    }
}

impl FromRequestParts<WebState> for Staff {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Staff, WebError> {
        if !dashboard_on(state).await? {
            return Err(WebError::NotFound);
        }
        let session = session_cookie(&parts.headers).ok_or(WebError::Unauthorized)?;
        let sessions = state.sessions();
        let live = sessions
            .get(session, state.now())
            .ok_or(WebError::Unauthorized)?;
        let Some((actor, role)) = holder_now(state, &live.holder).await? else {
            sessions.close(session);
            return Err(WebError::Unauthorized);
        };
        Ok(Staff {
            csrf: live.csrf,
            session: session.to_owned(),
            actor,
            role,
        })
    }
}

/// Whether the dashboard is on: an admin token is set, or the ledger has an account.
pub(super) async fn dashboard_on(state: &WebState) -> Result<bool, WebError> {
    if state.keys().admin_token().is_some() {
        return Ok(true);
    }
    state
        .store()
        .has_accounts()
        .await
        .map_err(WebError::internal)
}

/// The session holder's name and role as the ledger says now; `None` once the session
/// must end: its account is disabled or gone, or its password changed since the login; a
/// token session once an account exists.
async fn holder_now(state: &WebState, holder: &Holder) -> Result<Option<(String, Role)>, WebError> {
    let store = state.store();
    Ok(match holder {
        Holder::Token => {
            let accounts = store.has_accounts().await.map_err(WebError::internal)?;
            let token = state.keys().admin_token().is_some();
            (token && !accounts).then(|| (TOKEN_ACTOR.to_owned(), Role::Admin))
        }
        Holder::Account { name, password_at } => store
            .account(name)
            .await
            .map_err(WebError::internal)?
            .filter(|a| !a.is_disabled() && a.password_at == *password_at)
            .map(|a| (a.name, a.role)),
    })
}

/// The `loa_session` value of the `Cookie` headers.
fn session_cookie(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|pair| pair.trim().strip_prefix(COOKIE)?.strip_prefix('='))
}

/// A field of an `application/x-www-form-urlencoded` body.
pub(crate) fn field(form: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(form)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

//! Staff sessions for the dashboard (`LOA_ADMIN_TOKEN`, docs/http.md#dashboard): the basis of
//! R14 (docs/reliability.md#r14).
//!
//! `POST /login` with the admin token (form field `token`, compared in constant time)
//! opens a session: a random 256-bit id in the cookie `loa_session` — `HttpOnly`,
//! `SameSite=Strict`, `Path=/`, 8 hours, and `Secure` when the daemon is served over HTTPS
//! — and a random CSRF token that every state-changing form must carry back
//! ([`Staff::check_csrf`]). Sessions live in memory: a restart logs everyone out. After 5
//! failed logins within 60 s a client gets 429 until the window passes. Logins and logouts
//! go to the audit trail.
//!
//! [`Staff`] is the extractor the dashboard's routes take (`super::dashboard`): without a
//! live session they answer 401 (pages redirect to `/login` instead). Without
//! `LOA_ADMIN_TOKEN` the dashboard is off: `/login` and `/` are 404.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Mutex;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, FromRequestParts, Request, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::WebState;
use super::error::WebError;
use crate::store::{AuditAction, AuditEntry, Millis};

/// The session cookie's name.
pub(crate) const COOKIE: &str = "loa_session";
const TTL: Millis = 8 * 3600 * 1000;
const MAX_FAILURES: usize = 5;
const FAILURE_WINDOW: Millis = 60_000;
const MAX_FORM: usize = 4 * 1024;
/// Clients with failed logins kept before old ones are swept.
const MAX_CLIENTS: usize = 1024;

/// Live sessions and recent failed logins, in memory.
#[derive(Debug, Default)]
pub struct Sessions {
    secure: bool,
    /// SHA-256 of the session id → (CSRF token, expiry).
    live: Mutex<HashMap<[u8; 32], (String, Millis)>>,
    /// Client → times of its recent failed logins.
    failures: Mutex<HashMap<String, Vec<Millis>>>,
}

impl Sessions {
    /// `secure`: set the cookie's `Secure` attribute (the daemon is reached over HTTPS).
    pub fn new(secure: bool) -> Sessions {
        Sessions {
            secure,
            ..Sessions::default()
        }
    }

    /// Opens a session at `now`: (cookie value, CSRF token).
    fn open(&self, now: Millis) -> Result<(String, String), WebError> {
        let (id, csrf) = (random()?, random()?);
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.retain(|_, (_, expires)| *expires > now);
        live.insert(digest(&id), (csrf.clone(), now + TTL));
        Ok((id, csrf))
    }

    /// The CSRF token of the live session `id`.
    fn csrf(&self, id: &str, now: Millis) -> Option<String> {
        let live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.get(&digest(id))
            .filter(|(_, expires)| *expires > now)
            .map(|(csrf, _)| csrf.clone())
    }

    fn close(&self, id: &str) {
        let mut live = self.live.lock().unwrap_or_else(|e| e.into_inner());
        live.remove(&digest(id));
    }

    /// Whether `client` has used up its failed logins at `now`.
    fn blocked(&self, client: &str, now: Millis) -> bool {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        let recent = failures.entry(client.to_owned()).or_default();
        recent.retain(|t| now - t < FAILURE_WINDOW);
        recent.len() >= MAX_FAILURES
    }

    fn failed(&self, client: &str, now: Millis) {
        let mut failures = self.failures.lock().unwrap_or_else(|e| e.into_inner());
        // Bounded memory under many clients: forget those with no recent failure.
        if failures.len() >= MAX_CLIENTS {
            failures.retain(|_, times| times.iter().any(|t| now - t < FAILURE_WINDOW));
        }
        failures.entry(client.to_owned()).or_default().push(now);
    }

    fn cookie(&self, value: &str, max_age: i64) -> HeaderValue {
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
    session: String,
}

impl Staff {
    /// Refuses (403) a state change whose form or `X-CSRF-Token` did not carry this
    /// session's CSRF token.
    pub(crate) fn check_csrf(&self, given: Option<&str>) -> Result<(), WebError> {
        let ok = given.is_some_and(|g| bool::from(g.as_bytes().ct_eq(self.csrf.as_bytes())));
        if ok { Ok(()) } else { Err(WebError::Forbidden) }
    }

    /// Reads a small form body (at most 4 KiB) and refuses it (403) unless its `csrf`
    /// field, or the `X-CSRF-Token` header, carries this session's token.
    pub(crate) async fn check_form(&self, headers: &HeaderMap, body: Body) -> Result<(), WebError> {
        let form = super::read_limited(body, headers, MAX_FORM).await?;
        let given = field(&form, "csrf").or_else(|| {
            let h = headers.get("x-csrf-token")?.to_str().ok()?;
            Some(h.to_owned())
        });
        self.check_csrf(given.as_deref())
    }
}

impl FromRequestParts<WebState> for Staff {
    type Rejection = WebError;

    async fn from_request_parts(parts: &mut Parts, state: &WebState) -> Result<Staff, WebError> {
        state.keys().admin_token().ok_or(WebError::NotFound)?;
        let session = session_cookie(&parts.headers).ok_or(WebError::Unauthorized)?;
        let csrf = state
            .sessions()
            .csrf(session, state.now())
            .ok_or(WebError::Unauthorized)?;
        Ok(Staff {
            csrf,
            session: session.to_owned(),
        })
    }
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

pub(super) fn router() -> Router<WebState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

async fn login_page(State(state): State<WebState>) -> Result<Html<&'static str>, WebError> {
    state.keys().admin_token().ok_or(WebError::NotFound)?;
    Ok(Html(LOGIN_PAGE))
}

async fn login(State(state): State<WebState>, request: Request) -> Result<Response, WebError> {
    let token = state
        .keys()
        .admin_token()
        .ok_or(WebError::NotFound)?
        .clone();
    let client = request
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map_or_else(|| "unknown".to_owned(), |c| c.0.ip().to_string());
    let now = state.now();
    let sessions = state.sessions();
    if sessions.blocked(&client, now) {
        return Err(WebError::TooManyRequests);
    }
    let (parts, body) = request.into_parts();
    let form = super::read_limited(body, &parts.headers, MAX_FORM).await?;
    let given = field(&form, "token").unwrap_or_default();
    if !bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())) {
        sessions.failed(&client, now);
        // Any client can cause this line: at most one per 10 s, with the count left out.
        if let Some(left_out) = state.log_line("login refused") {
            tracing::warn!(left_out, "dashboard login refused");
        }
        return Err(WebError::Unauthorized);
    }
    let (id, _csrf) = sessions.open(now)?;
    audit(&state, AuditAction::Login).await?;
    let mut response = Redirect::to("/").into_response();
    let cookie = sessions.cookie(&id, TTL / 1000);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

async fn logout(
    State(state): State<WebState>,
    staff: Staff,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    staff.check_form(&headers, body).await?;
    state.sessions().close(&staff.session);
    audit(&state, AuditAction::Logout).await?;
    let mut response = Redirect::to("/login").into_response();
    let cookie = state.sessions().cookie("", 0);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

async fn audit(state: &WebState, action: AuditAction) -> Result<(), WebError> {
    let entry = AuditEntry {
        actor: "dashboard",
        action,
        campaign: None,
        content_hash: None,
        audience: None,
        detail: None,
    };
    state
        .store()
        .audit(&entry, state.now())
        .await
        .map(|_| ())
        .map_err(WebError::internal)
}

/// A field of an `application/x-www-form-urlencoded` body.
pub(super) fn field(form: &[u8], name: &str) -> Option<String> {
    url::form_urlencoded::parse(form)
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

const LOGIN_PAGE: &str = "<!doctype html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"robots\" content=\"noindex\">\n<title>Đăng nhập — loa</title>\n\
<style>body{margin:0;font:15px/1.45 system-ui,sans-serif;background:#f5f7f9;color:#1c2733}\
main{max-width:22rem;margin:12vh auto;padding:1.2rem;background:#fff;border:1px solid #d9e1e8;\
border-radius:8px}label,input,button{display:block;width:100%;box-sizing:border-box;font:inherit}\
input{margin:.3rem 0 .8rem;padding:.45rem}button{padding:.45rem;border:0;border-radius:6px;\
background:#0b5cab;color:#fff}</style>\n</head>\n<body>\n\
<main>\n<h1>Đăng nhập</h1>\n<form method=\"post\" action=\"/login\">\n\
<label>Mã truy cập <input type=\"password\" name=\"token\" autocomplete=\"current-password\"></label>\n\
<button type=\"submit\">Đăng nhập</button>\n</form>\n</main>\n</body>\n</html>\n";

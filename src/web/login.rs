//! `/login` and `/logout` (docs/http.md#dashboard, docs/accounts.md#login): the forms, the
//! checks of a name and password or of the admin token, and the audit rows. The sessions
//! they open and end, and the limit on failed logins, are [`super::session`]'s.

use std::net::SocketAddr;

use axum::Router;
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use subtle::ConstantTimeEq;

use super::WebState;
use super::error::WebError;
use super::session::{Holder, MAX_FORM, Staff, TTL, field};
use crate::account::{self, Password, TOKEN_ACTOR};
use crate::store::{AuditAction, AuditEntry};

pub(super) fn router() -> Router<WebState> {
    Router::new()
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
}

/// The form asks for a name and a password once an account exists, for the admin token
/// before.
async fn login_page(State(state): State<WebState>) -> Result<Html<&'static str>, WebError> {
    let accounts = state
        .store()
        .has_accounts()
        .await
        .map_err(WebError::internal)?;
    if accounts {
        Ok(Html(ACCOUNT_LOGIN_PAGE))
    } else if state.keys().admin_token().is_some() {
        Ok(Html(TOKEN_LOGIN_PAGE))
    } else {
        Err(WebError::NotFound)
    }
}

/// A refused login: 401 with the form again and one fixed sentence (nothing typed is
/// echoed, and the sentence does not say whether the name exists).
fn refused(accounts: bool) -> Response {
    let page = if accounts {
        ACCOUNT_LOGIN_REFUSED
    } else {
        TOKEN_LOGIN_REFUSED
    };
    let mut response = (StatusCode::UNAUTHORIZED, Html(page)).into_response();
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

async fn login(State(state): State<WebState>, request: Request) -> Result<Response, WebError> {
    let token = state.keys().admin_token().cloned();
    let accounts = state
        .store()
        .has_accounts()
        .await
        .map_err(WebError::internal)?;
    if token.is_none() && !accounts {
        return Err(WebError::NotFound);
    }
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
    let holder = match (field(&form, "name"), token) {
        (Some(name), _) if accounts => {
            let password = Password::given(field(&form, "password").unwrap_or_default());
            account_login(&state, &client, &name, password).await?
        }
        (_, Some(token)) if !accounts => {
            let given = field(&form, "token").unwrap_or_default();
            bool::from(given.as_bytes().ct_eq(token.expose().as_bytes())).then_some(Holder::Token)
        }
        _ => None,
    };
    let Some(holder) = holder else {
        sessions.failed(&client, now);
        // Any client can cause this line: at most one per 10 s, with the count left out.
        // Never the name typed: it may be a password typed in the wrong field.
        if let Some(left_out) = state.log_line("login refused") {
            tracing::warn!(left_out, "dashboard login refused");
        }
        return Ok(refused(accounts));
    };
    let actor = match &holder {
        Holder::Token => TOKEN_ACTOR.to_owned(),
        Holder::Account { name, .. } => name.clone(),
    };
    let (id, _csrf) = sessions.open(holder, now)?;
    audit(&state, &actor, AuditAction::Login).await?;
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
    audit(&state, &staff.actor, AuditAction::Logout).await?;
    let mut response = Redirect::to("/login").into_response();
    let cookie = state.sessions().cookie("", 0);
    response.headers_mut().insert(header::SET_COOKIE, cookie);
    Ok(response)
}

/// The session of account `name` if `password` is its password and it is enabled. An
/// unknown or malformed name is checked against a decoy hash, so that it takes as long as
/// a wrong password and the answer does not tell which names exist.
async fn account_login(
    state: &WebState,
    client: &str,
    name: &str,
    password: Password,
) -> Result<Option<Holder>, WebError> {
    let found = match account::check_name(name) {
        Ok(()) => state
            .store()
            .account(name)
            .await
            .map_err(WebError::internal)?,
        Err(_) => None,
    };
    let stored = found.as_ref().map(|a| a.password_hash.clone());
    let _turn = state
        .sessions()
        .hashing
        .acquire()
        .await
        .map_err(|e| WebError::internal(e.into()))?;
    // Guesses sent at once all passed the limit before any failed: those still waiting
    // for a turn when it is reached cost no hashing.
    if state.sessions().blocked(client, state.now()) {
        return Err(WebError::TooManyRequests);
    }
    let matches = tokio::task::spawn_blocking(move || {
        // The decoy is made once, on first use: on this thread too.
        let stored = stored.as_ref().unwrap_or_else(|| account::decoy());
        account::verify(&password, stored)
    })
    .await
    .map_err(|e| WebError::internal(e.into()))?;
    Ok(found
        .filter(|a| matches && !a.is_disabled())
        .map(|a| Holder::Account {
            name: a.name,
            password_at: a.password_at,
        }))
}

async fn audit(state: &WebState, actor: &str, action: AuditAction) -> Result<(), WebError> {
    let entry = AuditEntry {
        actor,
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

/// The login page: `note` above the form, `fields` between the form's tags.
macro_rules! login_page {
    ($note:expr, $fields:expr) => {
        concat!(
            "<!doctype html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n",
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n",
            "<meta name=\"robots\" content=\"noindex\">\n<title>Đăng nhập — loa</title>\n",
            "<style>body{margin:0;font:15px/1.45 system-ui,sans-serif;background:#f5f7f9;color:#1c2733}",
            "main{max-width:22rem;margin:12vh auto;padding:1.2rem;background:#fff;border:1px solid #d9e1e8;",
            "border-radius:8px}label,input,button{display:block;width:100%;box-sizing:border-box;font:inherit}",
            "input{margin:.3rem 0 .8rem;padding:.45rem}button{padding:.45rem;border:0;border-radius:6px;",
            "background:#0b5cab;color:#fff}.refused{color:#a32020}</style>\n</head>\n<body>\n",
            "<main>\n<h1>Đăng nhập</h1>\n",
            $note,
            "<form method=\"post\" action=\"/login\">\n",
            $fields,
            "<button type=\"submit\">Đăng nhập</button>\n</form>\n</main>\n</body>\n</html>\n"
        )
    };
}

/// The admin token's field.
macro_rules! token_field {
    () => {
        "<label>Mã truy cập <input type=\"password\" name=\"token\" \
         autocomplete=\"current-password\"></label>\n"
    };
}

/// An account's fields.
macro_rules! account_fields {
    () => {
        "<label>Tên tài khoản <input type=\"text\" name=\"name\" autocomplete=\"username\" \
         autocapitalize=\"none\" spellcheck=\"false\" required></label>\n\
         <label>Mật khẩu <input type=\"password\" name=\"password\" \
         autocomplete=\"current-password\" required></label>\n"
    };
}

/// While no account exists: the admin token.
const TOKEN_LOGIN_PAGE: &str = login_page!("", token_field!());
const TOKEN_LOGIN_REFUSED: &str = login_page!(
    "<p class=\"refused\" role=\"alert\">Mã truy cập không đúng.</p>\n",
    token_field!()
);

/// Once an account exists: its name and password.
const ACCOUNT_LOGIN_PAGE: &str = login_page!("", account_fields!());
const ACCOUNT_LOGIN_REFUSED: &str = login_page!(
    "<p class=\"refused\" role=\"alert\">Tên tài khoản hoặc mật khẩu không đúng.</p>\n",
    account_fields!()
);

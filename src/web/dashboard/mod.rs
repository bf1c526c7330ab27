//! The staff dashboard (issue 4): server-rendered pages over the ledger and the loaded
//! workspace, behind the staff session ([`Staff`]).
//!
//! Every route names the role it needs ([`super::ROUTES`], docs/accounts.md): the pages
//! `viewer`, the buttons `operator`; a lower role gets 403 and its pages show no buttons.
//!
//! - `GET /` — every campaign with its status, messages by state, last activity.
//! - `GET /campaigns/{id}` — the campaign's timeline (windows as bands, each step's
//!   occurrences as marks, close ones sharing a mark), past occurrences with their
//!   figures (50 a page, `?page=N`, the latest page by default), the funnel per step and
//!   channel, the failures (masked), coverage per school, and the buttons below.
//! - `POST /campaigns/{id}/submit`, `/approve` — four-eyes approval of the version
//!   loaded now ([`approval`], docs/approval.md): operator and approver.
//! - `POST /campaigns/{id}/pause`, `/resume`, `/retry` — an operator pause stored in the
//!   ledger ([`Store::hold_campaign`]; the dispatcher holds paused campaigns), its end,
//!   and failed messages back in the queue ([`Store::retry`]). Each needs the session's
//!   CSRF token, writes one audit row naming the account and redirects back with a flash
//!   message.
//!
//! Pages are Vietnamese unless `?lang=en` (kept in a cookie, see [`i18n`]), numbers
//! included (`2.400`, `97,63 %`, see [`numbers`]) and loa's own skip and error texts
//! ([`reason`]); the ledger, CSV and JSON keep the English codes. Templates are
//! compiled in and rendered by a Tera instance of the dashboard's own, with HTML escaping
//! on — campaign titles, step names and errors are staff or provider text. Without a
//! loaded workspace the pages show what the ledger knows (no timeline, no coverage).
//!
//! [`Store::hold_campaign`]: crate::store::Store::hold_campaign
//! [`Store::retry`]: crate::store::Store::retry

mod approval;
mod coverage;
pub(crate) mod i18n;
mod numbers;
pub(crate) mod reason;
mod timeline;
mod view;

use std::sync::OnceLock;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Uri, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};

use super::WebState;
use super::error::WebError;
use super::session::Staff;
use crate::account::Role;
use crate::store::{AuditAction, AuditEntry, MessageState, Millis};
use i18n::Lang;

pub(super) fn router() -> Router<WebState> {
    Router::new()
        .route("/", get(index))
        .route("/campaigns/{id}", get(campaign))
        .route("/campaigns/{id}/pause", post(pause))
        .route("/campaigns/{id}/resume", post(resume))
        .route("/campaigns/{id}/retry", post(retry))
        .route("/campaigns/{id}/submit", post(approval::submit))
        .route("/campaigns/{id}/approve", post(approval::approve))
}

/// The dashboard's templates, compiled once.
fn tera() -> Result<&'static tera::Tera, WebError> {
    static TERA: OnceLock<Result<tera::Tera, String>> = OnceLock::new();
    let compiled = TERA.get_or_init(|| {
        let mut tera = tera::Tera::default();
        tera.add_raw_templates([
            ("base.html", include_str!("templates/base.html")),
            ("index.html", include_str!("templates/index.html")),
            ("campaign.html", include_str!("templates/campaign.html")),
        ])
        .map_err(|e| format!("{e:?}"))?;
        numbers::register(&mut tera);
        Ok(tera)
    });
    compiled
        .as_ref()
        .map_err(|e| WebError::internal(anyhow::anyhow!("dashboard templates: {e}")))
}

/// A page request: its language and flash message.
struct Page {
    lang: Lang,
    switched: bool,
    flash: Option<String>,
}

impl Page {
    fn of(uri: &Uri, headers: &HeaderMap) -> Page {
        let (lang, switched) = Lang::of(uri.query(), headers);
        let flash = flash(uri.query(), lang);
        Page {
            lang,
            switched,
            flash,
        }
    }

    /// `name` rendered with `ctx` and what every page has; the language cookie set when
    /// `?lang=` chose it; never cached; no script, frame or foreign form target.
    fn render(
        &self,
        name: &str,
        mut ctx: tera::Context,
        staff: &Staff,
    ) -> Result<Response, WebError> {
        ctx.insert("lang", self.lang.code());
        ctx.insert("t", &self.lang.texts());
        ctx.insert("csrf", &staff.csrf);
        ctx.insert("who", &staff.actor);
        ctx.insert("role", staff.role.as_str());
        ctx.insert("can_operate", &staff.role.allows(Role::Operator));
        ctx.insert("flash", &self.flash);
        ctx.insert("states", &MessageState::ALL);
        let html = tera()?
            .render(name, &ctx)
            .map_err(|e| WebError::internal(anyhow::anyhow!("rendering {name}: {e:?}")))?;
        let mut response = Html(html).into_response();
        let h = response.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
                 frame-ancestors 'none'; base-uri 'none'",
            ),
        );
        if self.switched {
            h.insert(header::SET_COOKIE, self.lang.cookie());
        }
        Ok(response)
    }
}

/// A page's session: absent, the browser goes to the login form.
fn page_staff(staff: Result<Staff, WebError>) -> Result<Result<Staff, Response>, WebError> {
    match staff {
        Ok(staff) => {
            staff.require(Role::Viewer)?;
            Ok(Ok(staff))
        }
        Err(WebError::Unauthorized) => Ok(Err(Redirect::to("/login").into_response())),
        Err(e) => Err(e),
    }
}

async fn index(
    State(state): State<WebState>,
    staff: Result<Staff, WebError>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let staff = match page_staff(staff)? {
        Ok(staff) => staff,
        Err(login) => return Ok(login),
    };
    let page = Page::of(&uri, &headers);
    let campaigns = view::campaigns(&state).await.map_err(WebError::internal)?;
    let mut ctx = tera::Context::new();
    // Campaigns whose version on disk waits for approval (docs/approval.md).
    let awaiting: Vec<&str> = campaigns
        .iter()
        .map(|c| c.id.as_str())
        .filter(|id| {
            state
                .sending(id)
                .is_some_and(|s| !matches!(s, crate::campaign::Sending::Approved(_)))
        })
        .collect();
    ctx.insert("campaigns", &campaigns);
    ctx.insert("awaiting", &awaiting);
    ctx.insert("has_workspace", &state.workspace().is_some());
    ctx.insert("refused_edit", &state.refused_edit());
    page.render("index.html", ctx, &staff)
}

async fn campaign(
    State(state): State<WebState>,
    staff: Result<Staff, WebError>,
    Path(id): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> Result<Response, WebError> {
    let staff = match page_staff(staff)? {
        Ok(staff) => staff,
        Err(login) => return Ok(login),
    };
    let page = Page::of(&uri, &headers);
    let asked = query_field(uri.query(), "page").and_then(|p| p.parse().ok());
    let mut ctx = view::campaign(&state, &id, page.lang, asked)
        .await
        .map_err(WebError::internal)?
        .ok_or(WebError::NotFound)?;
    ctx.insert("has_workspace", &state.workspace().is_some());
    ctx.insert("refused_edit", &state.refused_edit());
    let approval = approval::view(&state, &id, &staff, page.lang)
        .await
        .map_err(WebError::internal)?;
    ctx.insert("approval", &approval);
    page.render("campaign.html", ctx, &staff)
}

/// What a button asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Pause,
    Resume,
    Retry,
}

async fn pause(
    State(state): State<WebState>,
    staff: Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    act(&state, &staff, &id, &headers, body, Action::Pause).await
}

async fn resume(
    State(state): State<WebState>,
    staff: Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    act(&state, &staff, &id, &headers, body, Action::Resume).await
}

async fn retry(
    State(state): State<WebState>,
    staff: Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    act(&state, &staff, &id, &headers, body, Action::Retry).await
}

/// Checks the CSRF token, changes the ledger, writes the audit row and sends the browser
/// back to the campaign's page with a flash message.
async fn act(
    state: &WebState,
    staff: &Staff,
    id: &str,
    headers: &HeaderMap,
    body: Body,
    action: Action,
) -> Result<Response, WebError> {
    staff.require(Role::Operator)?;
    staff.check_form(headers, body).await?;
    let store = state.store();
    let row = store
        .campaign_row(id)
        .await
        .map_err(WebError::internal)?
        .ok_or(WebError::NotFound)?;
    let now = state.now();
    let applied = apply(state, &staff.actor, id, action, now)
        .await
        .map_err(WebError::internal)?;
    // The page the browser is sent back to shows the change, however long counting takes.
    state.forget_counts().await;
    let entry = AuditEntry {
        actor: &staff.actor,
        action: applied.audit,
        campaign: Some(id),
        content_hash: Some(&row.content_hash),
        audience: applied.audience,
        detail: Some(applied.detail),
    };
    store.audit(&entry, now).await.map_err(WebError::internal)?;
    tracing::info!(
        campaign = %id,
        action = applied.audit.as_str(),
        account = %staff.actor,
        "dashboard action"
    );
    let done = applied.done;
    Ok(Redirect::to(&format!("{}?done={done}", href(id))).into_response())
}

/// What an action did, for its audit row and flash message.
struct Applied {
    audit: AuditAction,
    /// The `done` query of the redirect.
    done: String,
    detail: &'static str,
    audience: Option<u64>,
}

/// Changes the ledger as `action` asks, on behalf of `actor`.
async fn apply(
    state: &WebState,
    actor: &str,
    id: &str,
    action: Action,
    now: Millis,
) -> anyhow::Result<Applied> {
    let store = state.store();
    Ok(match action {
        Action::Pause => {
            let first = store.hold_campaign(id, actor, now).await?;
            Applied {
                audit: AuditAction::Pause,
                done: "paused".to_owned(),
                detail: if first {
                    "operator pause"
                } else {
                    "already paused"
                },
                audience: None,
            }
        }
        Action::Resume => {
            let was = store.release_campaign(id).await?;
            Applied {
                audit: AuditAction::Resume,
                done: "resumed".to_owned(),
                detail: if was {
                    "operator pause lifted"
                } else {
                    "was not paused"
                },
                audience: None,
            }
        }
        Action::Retry => {
            let n = store.retry(id, None, MessageState::Failed, now).await?;
            Applied {
                audit: AuditAction::Retry,
                done: format!("retried&n={n}"),
                detail: "failed messages re-queued",
                audience: Some(n),
            }
        }
    })
}

/// The flash message a redirect asked for with `?done=` (fixed texts: nothing of the
/// query is echoed but a number).
fn flash(query: Option<&str>, lang: Lang) -> Option<String> {
    let done = query_field(query, "done")?;
    let texts = lang.texts();
    match done.as_str() {
        "paused" => Some(texts["done_paused"].to_owned()),
        "resumed" => Some(texts["done_resumed"].to_owned()),
        "submitted" | "approved" | "approved_one" | "own_request" | "not_requested"
        | "no_version" | "changed" => Some(texts[format!("done_{done}").as_str()].to_owned()),
        "retried" => {
            let n: u64 = query_field(query, "n")?.parse().ok()?;
            Some(format!("{} {n}", texts["done_retried"]))
        }
        _ => None,
    }
}

/// A field of a URL's query string.
fn query_field(query: Option<&str>, name: &str) -> Option<String> {
    url::form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}

/// The path of a campaign's page, its id percent-encoded.
fn href(id: &str) -> String {
    let mut out = String::from("/campaigns/");
    for b in id.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests;

//! Four-eyes approval on the campaign page (docs/approval.md): which version is on disk,
//! whether it awaits approval (and who requested it), which version was approved last, and
//! what the running daemon sends; the "request approval" (operator) and "approve"
//! (approver) buttons.
//!
//! Both buttons act on the version on disk, named by its approval hash, and check the
//! session's CSRF token as the other buttons do. The page's form carries the hash it showed;
//! when the files changed since, nothing is recorded and the page says so. The ledger refuses an approval by the
//! account that requested the version; the page then says so (a fixed text).

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Redirect, Response};
use serde::Serialize;

use super::href;
use super::i18n::Lang;
use crate::account::Role;
use crate::campaign::{Sending, Status, Workspace, approval_hash, approvers_needed};
use crate::store::{ApprovalError, ApprovalStep};
use crate::web::WebState;
use crate::web::error::WebError;
use crate::web::session::{Staff, field};

/// What the campaign page shows of approval.
#[derive(Debug, Serialize)]
pub(super) struct View {
    /// The approval hash of the version on disk.
    version: String,
    /// `approved`, `awaiting` (requested) or `not_requested`.
    state: &'static str,
    requested_by: String,
    approved_by: String,
    needed: u8,
    /// The version approved last, when it is not the one on disk.
    last_approved: Option<String>,
    /// What the daemon sends: `this`, `older` or `nothing`.
    sending: &'static str,
    /// `state` and `sending` in the page's language.
    state_text: String,
    sending_text: String,
    can_request: bool,
    can_approve: bool,
}

/// The approval part of the page, for an `active` campaign of a daemon that sends only
/// approved versions; `None` otherwise.
pub(super) async fn view(
    state: &WebState,
    id: &str,
    staff: &Staff,
    lang: Lang,
) -> anyhow::Result<Option<View>> {
    if !state.approval_on() {
        return Ok(None);
    }
    let Some(ws) = state.workspace() else {
        return Ok(None);
    };
    if ws.campaign(id).is_none_or(|c| c.status != Status::Active) {
        return Ok(None);
    }
    let Some(version) = hash_of(ws, id).await? else {
        return Ok(None);
    };
    let store = state.store();
    let v = store.version_approval(id, &version).await?;
    let last = store.last_approved(id).await?.map(|(hash, _)| hash);
    let sending = match state.sending(id) {
        Some(Sending::Approved(_)) => "this",
        Some(Sending::Older { .. }) => "older",
        _ => "nothing",
    };
    let requester = v.requested_by.contains(&staff.actor);
    let state_word = match (v.is_approved(), v.is_awaiting()) {
        (true, _) => "approved",
        (_, true) => "awaiting",
        _ => "not_requested",
    };
    let texts = lang.texts();
    let text = |key: String| {
        texts
            .get(key.as_str())
            .copied()
            .unwrap_or_default()
            .to_owned()
    };
    Ok(Some(View {
        state_text: text(format!("approval_{state_word}")),
        sending_text: text(format!("sending_{sending}")),
        state: state_word,
        requested_by: v.requested_by.join(", "),
        approved_by: v.approved_by.join(", "),
        needed: v.needed,
        last_approved: last.filter(|h| *h != version),
        sending,
        can_request: !v.is_approved() && !requester && staff.role.allows(Role::Operator),
        can_approve: v.is_awaiting() && !requester && staff.role.allows(Role::Approver),
        version,
    }))
}

/// The approval hash of `id` as loaded, read on a blocking thread (it reads the files).
async fn hash_of(ws: Arc<Workspace>, id: &str) -> anyhow::Result<Option<String>> {
    let id = id.to_owned();
    tokio::task::spawn_blocking(move || {
        ws.campaign(&id)
            .map(|c| approval_hash(c, &ws.templates))
            .transpose()
    })
    .await?
}

/// `POST /campaigns/{id}/submit`: requests approval of the version loaded now.
pub(super) async fn submit(
    State(state): State<WebState>,
    staff: Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    act(&state, &staff, &id, &headers, body, Role::Operator).await
}

/// `POST /campaigns/{id}/approve`: approves the version loaded now.
pub(super) async fn approve(
    State(state): State<WebState>,
    staff: Staff,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    act(&state, &staff, &id, &headers, body, Role::Approver).await
}

async fn act(
    state: &WebState,
    staff: &Staff,
    id: &str,
    headers: &HeaderMap,
    body: Body,
    needed: Role,
) -> Result<Response, WebError> {
    staff.require(needed)?;
    let form = staff.checked_form(headers, body).await?;
    let back = |done: &str| Ok(Redirect::to(&format!("{}?done={done}", href(id))).into_response());
    let Some(ws) = state.workspace() else {
        return back("no_version");
    };
    let Some(version) = version(ws, id).await.map_err(WebError::internal)? else {
        return back("no_version");
    };
    // What the page showed is what is requested or approved: files changed since are a
    // version nobody has looked at.
    if field(&form, "version").is_some_and(|shown| shown != version.0) {
        return back("changed");
    }
    let step = ApprovalStep {
        campaign: id,
        hash: &version.0,
        account: &staff.actor,
        needed: version.1,
    };
    let store = state.store();
    let now = state.now();
    let done = if needed == Role::Approver {
        match store.approve(&step, now).await {
            Ok(v) if v.is_approved() => "approved",
            Ok(_) => "approved_one",
            Err(e) => match e.downcast_ref::<ApprovalError>() {
                Some(ApprovalError::OwnRequest(_)) => "own_request",
                Some(ApprovalError::NotRequested(_)) => "not_requested",
                None => return Err(WebError::internal(e)),
            },
        }
    } else {
        store
            .request_approval(&step, now)
            .await
            .map_err(WebError::internal)?;
        "submitted"
    };
    tracing::info!(campaign = %id, version = %version.0, account = %staff.actor, done, "dashboard approval");
    back(done)
}

/// The version of `id` loaded now: its approval hash and the approvers it needs; counted
/// on a blocking thread (with `second_above`, the data is read).
async fn version(ws: Arc<Workspace>, id: &str) -> anyhow::Result<Option<(String, u8)>> {
    let id = id.to_owned();
    tokio::task::spawn_blocking(move || {
        let Some(c) = ws.campaign(&id) else {
            return Ok(None);
        };
        let hash = approval_hash(c, &ws.templates)?;
        Ok(Some((hash, approvers_needed(c, ws.renderer_of(&id))?)))
    })
    .await?
}

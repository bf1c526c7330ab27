//! Unsubscribe links: `GET /unsubscribe/{token}` shows a confirmation page and changes
//! nothing (mail scanners and link prefetchers follow GETs); `POST` — RFC 8058 one-click
//! (`List-Unsubscribe=One-Click`) or the page's form — records a suppression of that
//! message's address, so the dispatcher skips every later message to it (docs/delivery.md#states,
//! docs/reliability.md#r18).
//!
//! A token is `<message_id>.<base64url(HMAC-SHA256(key, message_id))>`
//! ([`unsubscribe_token`], made in `crate::links`): it names one message and cannot be made for another without
//! the key, so nobody can unsubscribe an address they only guessed. A forged, damaged or
//! unknown token gets one fixed page (404) that repeats nothing of the request. Pages show
//! the address masked (`ng***@example.vn`).

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use super::WebState;
use super::error::WebError;
use crate::channel::mask_address;
pub(crate) use crate::links::token_message_id;
pub use crate::links::unsubscribe_token;
use crate::store::{Suppression, SuppressionReason};

/// A one-click body is `List-Unsubscribe=One-Click`; anything much longer is no form of ours.
const MAX_BODY: usize = 8 * 1024;

pub(super) fn router() -> Router<WebState> {
    Router::new().route("/unsubscribe/{token}", get(show).post(confirm))
}

/// The address a valid token's message was sent to, with the message id.
async fn resolve<'t>(state: &WebState, token: &'t str) -> Result<(&'t str, String), WebError> {
    let key = state.keys().unsubscribe().ok_or(WebError::BadLink)?;
    let id = token_message_id(key.expose().as_bytes(), token).ok_or(WebError::BadLink)?;
    let target = state
        .store()
        .unsubscribe_target(id)
        .await
        .map_err(WebError::internal)?
        .ok_or(WebError::BadLink)?;
    let address = target.address.ok_or(WebError::BadLink)?;
    Ok((id, address))
}

async fn show(
    State(state): State<WebState>,
    Path(token): Path<String>,
) -> Result<Response, WebError> {
    let (_, address) = resolve(&state, &token).await?;
    Ok(page(&confirm_page(&mask_address(&address))))
}

async fn confirm(
    State(state): State<WebState>,
    Path(token): Path<String>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, WebError> {
    // The token alone authorises; the body (one-click or the form) is read only to bound it.
    super::read_limited(body, &headers, MAX_BODY).await?;
    let (id, address) = resolve(&state, &token).await?;
    let suppression = Suppression {
        address: &address,
        channel_kind: None,
        reason: SuppressionReason::Unsubscribed,
        message: Some(id),
    };
    let new = state
        .store()
        .suppress(&suppression, state.now())
        .await
        .map_err(WebError::internal)?;
    let masked = mask_address(&address);
    // Anyone holding a link can post it again and again: a repeat is logged at most once
    // per 10 s ([`crate::log_limit`]); a new suppression always.
    let left_out = if new {
        Some(0)
    } else {
        state.log_line("unsubscribed again")
    };
    if let Some(left_out) = left_out {
        tracing::info!(message_id = id, address = %masked, new, left_out, "unsubscribed");
    }
    Ok(page(&thanks_page(&masked)))
}

/// An HTML answer that is not cached, framed, or sent on as a referrer (the URL holds the
/// token).
fn page(html: &str) -> Response {
    let mut response = Html(html.to_owned()).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; \
             frame-ancestors 'none'",
        ),
    );
    h.insert(
        HeaderName::from_static("x-robots-tag"),
        HeaderValue::from_static("noindex"),
    );
    response
}

const HEAD: &str = "<!doctype html>\n<html lang=\"vi\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta name=\"robots\" content=\"noindex\">\n<title>Hủy nhận thông báo — BHXH Việt Nam</title>\n\
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:3rem auto;padding:0 1rem;\
line-height:1.5}button{font-size:1rem;padding:.6rem 1.2rem}</style>\n</head>\n<body>\n<main>\n";

const FOOT: &str = "</main>\n</body>\n</html>\n";

fn confirm_page(masked: &str) -> String {
    format!(
        "{HEAD}<h1>Hủy nhận thông báo</h1>\n\
         <p>Địa chỉ <strong>{}</strong> sẽ không nhận thêm thông báo về bảo hiểm y tế học \
         sinh, sinh viên từ Bảo hiểm xã hội Việt Nam.</p>\n\
         <form method=\"post\">\n\
         <input type=\"hidden\" name=\"List-Unsubscribe\" value=\"One-Click\">\n\
         <button type=\"submit\">Xác nhận hủy nhận</button>\n</form>\n{FOOT}",
        escape(masked)
    )
}

fn thanks_page(masked: &str) -> String {
    format!(
        "{HEAD}<h1>Đã hủy nhận thông báo</h1>\n\
         <p>Cảm ơn bạn. Địa chỉ <strong>{}</strong> sẽ không nhận thêm thông báo nào từ \
         chúng tôi.</p>\n{FOOT}",
        escape(masked)
    )
}

/// The page for a link that is forged, damaged or names no message.
pub(super) const BAD_LINK_PAGE: &str = "<!doctype html>\n<html lang=\"vi\">\n<head>\n\
<meta charset=\"utf-8\">\n<meta name=\"robots\" content=\"noindex\">\n\
<title>Liên kết không hợp lệ</title>\n</head>\n<body>\n<main>\n\
<h1>Liên kết không hợp lệ</h1>\n\
<p>Liên kết hủy nhận thông báo này không hợp lệ hoặc không còn dùng được. Vui lòng dùng \
đúng liên kết trong thư bạn nhận được.</p>\n</main>\n</body>\n</html>\n";

/// HTML text escaping for the few values a page shows.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_escape_what_they_show() {
        assert!(confirm_page("<b>").contains("&lt;b&gt;"));
        assert!(thanks_page("a\"b").contains("a&quot;b"));
        assert!(confirm_page("x").contains("<form method=\"post\">"));
    }
}

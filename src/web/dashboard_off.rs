//! `GET /` while the dashboard is off (no `LOA_ADMIN_TOKEN` and no staff account): a page that says how to turn
//! it on, instead of the router's empty "not found".
//!
//! It answers 404, as every switched-off route does (docs/reliability.md#r14): the
//! dashboard is not there, monitors and probes see what they saw before, and a browser
//! shows the page all the same. Every other dashboard route stays a bare 404. The page is
//! the same for everyone and names nothing of this daemon's configuration beyond that.

use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Response};

use super::WebState;

/// The page, in Vietnamese (the dashboard's language) and English.
pub(crate) const PAGE: &str = r#"<!doctype html>
<html lang="vi"><head><meta charset="utf-8"><title>loa: bảng điều khiển đang tắt / the dashboard is off</title>
<style>body{font-family:system-ui,sans-serif;max-width:40em;margin:3em auto;padding:0 1em;line-height:1.5}code{background:#eee;padding:0 .2em}</style>
</head><body>
<h1 id="off">Bảng điều khiển đang tắt</h1>
<p>Đặt biến môi trường <code>LOA_ADMIN_TOKEN</code> (ít nhất 16 ký tự) cho <code>loa run</code>
rồi khởi động lại; sau đó đăng nhập tại <a href="/login">/login</a> bằng mã đó. Hoặc tạo
tài khoản cán bộ bằng <code>loa user add TÊN --role admin</code>.</p>
<h2 lang="en">The dashboard is off</h2>
<p lang="en">Set the environment variable <code>LOA_ADMIN_TOKEN</code> (at least 16 characters)
for <code>loa run</code> and restart it; then log in at <a href="/login">/login</a> with that token.
Or add a staff account with <code>loa user add NAME --role admin</code>.</p>
<p lang="en">Health, metrics, callbacks and unsubscribe links work without it (docs/http.md).</p>
</body></html>
"#;

/// Answers `GET /` with [`PAGE`] when the dashboard is off; passes everything else on.
pub(super) async fn answer(
    State(state): State<WebState>,
    request: Request,
    next: Next,
) -> Response {
    let root = request.method() == Method::GET && request.uri().path() == "/";
    // A ledger that cannot be read: the route itself answers (500), as it would anyway.
    if !root || super::session::dashboard_on(&state).await.unwrap_or(true) {
        return next.run(request).await;
    }
    let mut response = (StatusCode::NOT_FOUND, Html(PAGE)).into_response();
    let h = response.headers_mut();
    h.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    h.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
        ),
    );
    response
}

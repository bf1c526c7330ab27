//! The one error type of the HTTP routes, and how each variant answers.
//!
//! Bodies are fixed texts: no error echoes a request's input, a header, a key or a
//! database message (docs/reliability.md#r16, #r22). Internal errors are logged — the
//! ledger's messages name message ids and tables, never addresses — and answered with a
//! bare 500.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Response};

/// Why a request was not served.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WebError {
    /// No such route, or a route that is switched off.
    #[error("not found")]
    NotFound,
    /// A callback whose signature, timestamp or body did not verify, or a scrape without
    /// its token.
    #[error("unauthorized")]
    Unauthorized,
    /// A logged-in request without its CSRF token.
    #[error("forbidden")]
    Forbidden,
    /// Too many failed logins from one client.
    #[error("too many requests")]
    TooManyRequests,
    /// The body is larger than the route accepts; refused before any verification.
    #[error("request body too large")]
    TooLarge,
    /// The body did not arrive in time.
    #[error("request body timed out")]
    Timeout,
    /// An authenticated request that makes no sense (the text is ours, never the input).
    #[error("bad request: {0}")]
    BadRequest(&'static str),
    /// A route enabled without its key: it accepts nothing (see `Keys::check`).
    #[error("route not configured")]
    NotConfigured,
    /// `/healthz`: the daemon is not healthy; the reason is ours, with figures only.
    #[error("unhealthy: {0}")]
    Unhealthy(String),
    /// An unsubscribe link that is forged, damaged or names no message: an HTML page.
    #[error("bad unsubscribe link")]
    BadLink,
    /// Anything else (the database, mostly); logged, answered 500.
    #[error("internal error: {0:#}")]
    Internal(anyhow::Error),
}

impl WebError {
    pub(crate) fn internal(e: anyhow::Error) -> WebError {
        WebError::Internal(e)
    }

    pub(crate) fn status(&self) -> StatusCode {
        match self {
            Self::NotFound | Self::BadLink => StatusCode::NOT_FOUND,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::Forbidden => StatusCode::FORBIDDEN,
            Self::TooManyRequests => StatusCode::TOO_MANY_REQUESTS,
            Self::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Timeout => StatusCode::REQUEST_TIMEOUT,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::NotConfigured | Self::Unhealthy(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let status = self.status();
        let mut response = match &self {
            Self::BadLink => (status, Html(super::unsubscribe::BAD_LINK_PAGE)).into_response(),
            Self::Internal(e) => {
                tracing::error!(error = %format!("{e:#}"), "request failed");
                (status, "internal error\n").into_response()
            }
            Self::Unhealthy(reason) => (status, format!("{reason}\n")).into_response(),
            Self::BadRequest(why) => (status, format!("bad request: {why}\n")).into_response(),
            other => (status, format!("{other}\n")).into_response(),
        };
        response
            .headers_mut()
            .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn an_internal_error_answers_500_without_its_message() {
        let e = WebError::internal(anyhow::anyhow!("secret-canary in a database error"));
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let body = axum::body::to_bytes(response.into_body(), 1024)
            .await
            .unwrap();
        assert_eq!(&body[..], b"internal error\n");
    }

    #[test]
    fn each_refusal_has_its_status() {
        assert_eq!(WebError::TooLarge.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(WebError::Unauthorized.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            WebError::NotConfigured.status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert_eq!(WebError::BadLink.status(), StatusCode::NOT_FOUND);
    }
}

//! The one fact about a request's content type that both transports need.

use axum::http::header::CONTENT_TYPE;
use axum::http::HeaderMap;

/// Whether the request says its body is JSON (`application/json` or a `+json` type).
pub(crate) fn is_json(headers: &HeaderMap) -> bool {
    headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
        .unwrap_or(false)
}

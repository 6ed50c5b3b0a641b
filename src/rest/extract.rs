//! How the legacy app read its inputs: the viewer from the bearer token (checked before any
//! parameter, as its `login_required` decorator did) and `target` from a JSON body or a path.

use axum::body::Bytes;
use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header::CONTENT_TYPE;
use axum::http::request::Parts;
use serde_json::Value;

use super::envelope::{LegacyError, INVALID_USER_ID, MISSING_JSON};
use crate::auth::Authenticator;
use crate::domain::ids::UserId;

/// The authenticated user a legacy request acts for.
pub struct LegacyViewer(pub UserId);

impl<S> FromRequestParts<S> for LegacyViewer
where
    Authenticator: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = LegacyError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let auth = Authenticator::from_ref(state);
        Ok(LegacyViewer(auth.required_viewer(&parts.headers).await?))
    }
}

/// `{"target": id}` from a JSON body; the id as a number or a decimal string. A body that is not
/// JSON reads as a missing parameter, as reqparse's `location='json'` did.
pub struct TargetBody(pub UserId);

impl<S: Send + Sync> FromRequest<S> for TargetBody {
    type Rejection = LegacyError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(&req) {
            return Err(missing_target());
        }
        let body = Bytes::from_request(req, state).await.map_err(|_| missing_target())?;
        let json: Value = serde_json::from_slice(&body).map_err(|_| missing_target())?;
        match json.get("target") {
            None | Some(Value::Null) => Err(missing_target()),
            Some(raw) => UserId::from_json(raw).map(TargetBody).map_err(|_| invalid_target()),
        }
    }
}

/// A target id from a URL path segment.
pub fn path_target(raw: &str) -> Result<UserId, LegacyError> {
    raw.parse().map_err(|_| invalid_target())
}

fn is_json(req: &Request) -> bool {
    req.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split(';').next())
        .map(|mime| {
            let mime = mime.trim().to_ascii_lowercase();
            mime == "application/json" || mime.ends_with("+json")
        })
        .unwrap_or(false)
}

fn missing_target() -> LegacyError {
    LegacyError::Param { name: "target", reason: MISSING_JSON }
}

fn invalid_target() -> LegacyError {
    LegacyError::Param { name: "target", reason: INVALID_USER_ID }
}

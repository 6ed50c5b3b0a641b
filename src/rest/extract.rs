//! How the legacy app read its inputs: the viewer from the bearer token (checked before any
//! parameter, as its `login_required` decorator did) and `target` from a JSON body or a path.

use axum::extract::{FromRef, FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use serde_json::Value;

use super::envelope::{LegacyError, INVALID_USER_ID, MISSING_JSON};
use crate::auth::Authenticator;
use crate::content_type::is_json;
use crate::domain::ids::UserId;

/// The authenticated user a legacy request acts for.
pub(crate) struct LegacyViewer(pub UserId);

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
/// JSON reads as a missing parameter, as reqparse's `location='json'` did; other fields are
/// ignored, as reqparse ignored them.
pub(crate) struct TargetBody(pub UserId);

/// The largest body the shim reads, from the service's settings.
#[derive(Debug, Clone, Copy)]
pub(crate) struct BodyLimit(pub usize);

impl<S> FromRequest<S> for TargetBody
where
    BodyLimit: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = LegacyError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(missing_target());
        }
        let BodyLimit(limit) = BodyLimit::from_ref(state);
        let body = axum::body::to_bytes(req.into_body(), limit)
            .await
            .map_err(|_| LegacyError::TooLarge)?;
        let json: Value = serde_json::from_slice(&body).map_err(|_| missing_target())?;
        match json.get("target") {
            None | Some(Value::Null) => Err(missing_target()),
            Some(raw) => UserId::from_json(raw).map(TargetBody).map_err(|_| invalid_target()),
        }
    }
}

/// A target id from a URL path segment.
pub(crate) fn path_target(raw: &str) -> Result<UserId, LegacyError> {
    raw.parse().map_err(|_| invalid_target())
}

fn missing_target() -> LegacyError {
    LegacyError::Param { name: "target", reason: MISSING_JSON }
}

fn invalid_target() -> LegacyError {
    LegacyError::Param { name: "target", reason: INVALID_USER_ID }
}

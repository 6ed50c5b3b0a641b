//! The legacy JSON envelope and the one mapping from errors to legacy status codes and bodies.
//! Messages are the Flask app's, word for word, because legacy clients match on them.

use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::{json, Value};

use crate::auth::AuthError;
use crate::domain::ids::UserId;
use crate::service::{Action, ServiceError};

/// `{"message": "OK", "data": …}`, the legacy success shape.
pub(crate) fn ok_with(status: StatusCode, data: Value) -> Response {
    (status, Json(json!({ "message": "OK", "data": data }))).into_response()
}

/// `{"message": "OK"}` with 200: what the legacy tutorial documents for DELETE.
pub(crate) fn ok() -> Response {
    Json(json!({ "message": "OK" })).into_response()
}

/// `{"target": id}`: what follow and blacklist answer with 201.
pub(crate) fn created_target(target: UserId) -> Response {
    ok_with(StatusCode::CREATED, json!({ "target": target.get() }))
}

/// `{"target": id, "requested": true}` with 201: a follow of a locked account became a request
/// (SPEC §14). Legacy clients read it as the follow's success; newer ones see the request.
pub(crate) fn requested_target(target: UserId) -> Response {
    ok_with(StatusCode::CREATED, json!({ "target": target.get(), "requested": true }))
}

/// 429 `{"message": "Too many requests."}`: a legacy client over its rate (the rate limiter adds
/// `Retry-After`).
pub(crate) fn too_many(_headers: &HeaderMap, _retry_after: u64) -> Response {
    (StatusCode::TOO_MANY_REQUESTS, Json(json!({ "message": "Too many requests." })))
        .into_response()
}

/// Every way a legacy request fails, with the legacy answer for each.
#[derive(Debug)]
pub(crate) enum LegacyError {
    /// A parameter is missing or invalid: 400 `{"message": {name: reason}}`, as flask-restful's
    /// reqparse answered.
    Param {
        name: &'static str,
        reason: &'static str,
    },
    /// The body is over the service's limit.
    TooLarge,
    Auth(AuthError),
    Service(ServiceError),
}

/// Why a parameter is refused, in the legacy words.
pub(crate) const MISSING_JSON: &str = "Missing required parameter in the JSON body";
pub(crate) const INVALID_USER_ID: &str = "Invalid target user id.";

impl From<AuthError> for LegacyError {
    fn from(err: AuthError) -> Self {
        LegacyError::Auth(err)
    }
}

impl From<ServiceError> for LegacyError {
    fn from(err: ServiceError) -> Self {
        LegacyError::Service(err)
    }
}

impl IntoResponse for LegacyError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            LegacyError::Param { name, reason } => {
                (StatusCode::BAD_REQUEST, json!({ name: reason }))
            }
            LegacyError::TooLarge => {
                (StatusCode::PAYLOAD_TOO_LARGE, json!("Request body too large."))
            }
            LegacyError::Auth(err) => auth_failure(err),
            LegacyError::Service(err) => service_failure(err),
        };
        (status, Json(json!({ "message": message }))).into_response()
    }
}

fn auth_failure(err: AuthError) -> (StatusCode, Value) {
    match err {
        AuthError::Refresh => (StatusCode::FORBIDDEN, json!("Do not use refresh token.")),
        AuthError::Lookup(cause) => service_failure(cause),
        AuthError::Missing | AuthError::Invalid(_) | AuthError::UnknownUser => {
            (StatusCode::UNAUTHORIZED, json!("User must be authorized."))
        }
    }
}

/// The legacy app's status and message for each refusal; the texts are its own.
fn service_failure(err: ServiceError) -> (StatusCode, Value) {
    let (status, message) = match err {
        ServiceError::SelfRelation(
            Action::Follow
            | Action::Unfollow
            | Action::RemoveFollower
            | Action::AcceptRequest
            | Action::RejectRequest
            | Action::CancelRequest,
        ) => (StatusCode::BAD_REQUEST, "User cannot follow self."),
        ServiceError::SelfRelation(Action::Block | Action::Unblock) => {
            (StatusCode::BAD_REQUEST, "User cannot blacklist self.")
        }
        ServiceError::UnknownUser(_) => (StatusCode::NOT_FOUND, "User does not exist."),
        // No legacy route accepts requests; the legacy form of a missing thing, should one.
        ServiceError::NoFollowRequest => (StatusCode::NOT_FOUND, "Follow request does not exist."),
        ServiceError::BlockedByTarget => (StatusCode::FORBIDDEN, "This user has blocked you."),
        // The shim lists only the caller's own lists, which the caller always sees; a route
        // to another user's list would answer this.
        ServiceError::ListHidden(_) => (StatusCode::FORBIDDEN, "This list is hidden."),
        ServiceError::TargetBlocked => {
            (StatusCode::FORBIDDEN, "You have blocked this user; unblock them first.")
        }
        ServiceError::Unavailable(_) => {
            (StatusCode::SERVICE_UNAVAILABLE, "The service is temporarily unavailable.")
        }
        // No legacy route subscribes to events: these cannot reach here.
        ServiceError::Internal(_)
        | ServiceError::Aborted
        | ServiceError::AfterNewestEvent
        | ServiceError::TooManySubscriptions(_)
        | ServiceError::SlowSubscriber => (StatusCode::INTERNAL_SERVER_ERROR, "Internal error."),
    };
    (status, json!(message))
}

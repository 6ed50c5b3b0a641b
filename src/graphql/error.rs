//! The one mapping from service and auth errors to GraphQL errors with a stable
//! `extensions.code`. Internal causes are logged here and never returned.

use async_graphql::{
    Context, Error, ErrorExtensionValues, ErrorExtensions, PathSegment, QueryPathSegment,
    ServerError,
};

use crate::auth::AuthError;
use crate::domain::page::Side;
use crate::service::{Action, ServiceError};

/// Every `extensions.code` this API answers with (docs/api.md lists when).
pub(crate) mod code {
    pub(crate) const UNAUTHENTICATED: &str = "UNAUTHENTICATED";
    pub(crate) const BAD_USER_INPUT: &str = "BAD_USER_INPUT";
    pub(crate) const NOT_FOUND: &str = "NOT_FOUND";
    pub(crate) const FORBIDDEN: &str = "FORBIDDEN";
    pub(crate) const SERVICE_UNAVAILABLE: &str = "SERVICE_UNAVAILABLE";
    pub(crate) const QUERY_LIMIT: &str = "QUERY_LIMIT";
    pub(crate) const RATE_LIMITED: &str = "RATE_LIMITED";
    pub(crate) const INTERNAL: &str = "INTERNAL";
    /// A subscription whose subscriber fell behind its buffer: never sent, the socket closes
    /// with 1013 instead (http/socket.rs).
    pub(crate) const SLOW_SUBSCRIBER: &str = "SLOW_SUBSCRIBER";
    /// Apollo's APQ: the hash is unknown, send the document with it.
    pub(crate) const PERSISTED_QUERY_NOT_FOUND: &str = "PERSISTED_QUERY_NOT_FOUND";
    /// Apollo's APQ: this server takes no persisted queries.
    pub(crate) const PERSISTED_QUERY_NOT_SUPPORTED: &str = "PERSISTED_QUERY_NOT_SUPPORTED";
}

/// The message and code of every field that needs a viewer when there is none.
pub(crate) fn unauthenticated() -> Error {
    coded("User must be authorized.", code::UNAUTHENTICATED)
}

/// An input that is not what the schema's description promises.
pub(crate) fn bad_input(message: impl Into<String>) -> Error {
    coded(message, code::BAD_USER_INPUT)
}

/// A GraphQL error with `extensions.code`.
pub(crate) fn coded(message: impl Into<String>, code: &'static str) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", code))
}

/// A field error on a nullable field as the GraphQL spec handles one: the field answers null
/// and the error, at the field's path, joins `errors`. Returned from a resolver, the error would
/// make async-graphql leave the field out of `data`, which clients read as data they did not
/// get rather than as null.
pub(crate) fn null_with<T>(ctx: &Context<'_>, error: Error) -> Option<T> {
    let mut error = error.into_server_error(ctx.item.pos);
    if let Some(node) = ctx.path_node.as_ref() {
        let mut path: Vec<PathSegment> = std::iter::once(node)
            .chain(node.parents())
            .map(|node| match node.segment {
                QueryPathSegment::Name(name) => PathSegment::Field(name.to_owned()),
                QueryPathSegment::Index(index) => PathSegment::Index(index),
            })
            .collect();
        path.reverse();
        error.path = path;
    }
    ctx.add_error(error);
    None
}

/// An error of the whole request, raised before execution: it belongs to no place in the
/// document and no field, so it has neither `locations` nor `path`.
pub(crate) fn request_error(message: impl Into<String>, code: &'static str) -> ServerError {
    let mut error = ServerError::new(message, None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code);
    error.extensions = Some(extensions);
    error
}

/// A request that cannot be read or run as sent.
pub(crate) fn bad_request(message: impl Into<String>) -> ServerError {
    request_error(message, code::BAD_USER_INPUT)
}

/// A request over the rate limit, told when to come back.
pub(crate) fn rate_limited(retry_after_secs: u64) -> ServerError {
    let mut error = request_error("Too many requests; retry later.", code::RATE_LIMITED);
    if let Some(extensions) = error.extensions.as_mut() {
        extensions.set("retryAfter", retry_after_secs);
    }
    error
}

/// The `extensions.code` of an error, if it has one.
pub(crate) fn code_of(error: &ServerError) -> Option<&str> {
    match error.extensions.as_ref()?.get("code")? {
        async_graphql::Value::String(code) => Some(code),
        _ => None,
    }
}

impl ErrorExtensions for ServiceError {
    /// The code and the message a GraphQL client sees for each refusal.
    fn extend(&self) -> Error {
        let (code, message) = match self {
            ServiceError::SelfRelation(Action::Follow | Action::Unfollow) => {
                (code::BAD_USER_INPUT, "A user cannot follow themselves.".to_owned())
            }
            ServiceError::SelfRelation(Action::Block | Action::Unblock) => {
                (code::BAD_USER_INPUT, "A user cannot block themselves.".to_owned())
            }
            ServiceError::SelfRelation(Action::RemoveFollower) => {
                (code::BAD_USER_INPUT, "A user cannot be their own follower.".to_owned())
            }
            ServiceError::SelfRelation(
                Action::AcceptRequest | Action::RejectRequest | Action::CancelRequest,
            ) => (code::BAD_USER_INPUT, "A user cannot ask to follow themselves.".to_owned()),
            ServiceError::UnknownUser(id) => {
                (code::NOT_FOUND, format!("User {id} does not exist."))
            }
            ServiceError::NoFollowRequest => {
                (code::NOT_FOUND, "This user has no pending follow request to you.".to_owned())
            }
            ServiceError::ListHidden(side) => {
                let list = match side {
                    Side::Followers => "followers",
                    Side::Following => "followings",
                };
                (code::FORBIDDEN, format!("This user's {list} are hidden from you."))
            }
            ServiceError::BlockedByTarget => {
                (code::FORBIDDEN, "This user has blocked you.".to_owned())
            }
            ServiceError::TargetBlocked => {
                (code::FORBIDDEN, "You have blocked this user; unblock them first.".to_owned())
            }
            ServiceError::Unavailable(_) => (
                code::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable; retry later.".to_owned(),
            ),
            ServiceError::AfterNewestEvent => (
                code::BAD_USER_INPUT,
                "`after` names an event that has not happened yet.".to_owned(),
            ),
            ServiceError::TooManySubscriptions(limit) => {
                let message = format!("At most {limit} subscriptions per viewer.");
                let limit = *limit as u64;
                return coded(message, code::QUERY_LIMIT).extend_with(|_, e| {
                    e.set("limit", "subscriptions");
                    e.set("max", limit);
                });
            }
            ServiceError::SlowSubscriber => {
                (code::SLOW_SUBSCRIBER, "The subscriber fell behind.".to_owned())
            }
            ServiceError::Internal(_) | ServiceError::Aborted => {
                (code::INTERNAL, "Internal error.".to_owned())
            }
        };
        coded(message, code)
    }
}

/// The error a request gets when its credentials are present but not acceptable.
pub(crate) fn auth_error(err: &AuthError) -> ServerError {
    let error = match err {
        AuthError::Lookup(cause) => cause.extend(),
        _ => unauthenticated(),
    };
    let mut server_error = ServerError::new(error.message, None);
    server_error.extensions = error.extensions;
    server_error
}

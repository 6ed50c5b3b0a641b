//! The one mapping from service and auth errors to GraphQL errors with a stable
//! `extensions.code`. Internal causes are logged here and never returned.

use async_graphql::{Error, ErrorExtensions};

use crate::auth::AuthError;
use crate::service::ServiceError;

/// The message and code of every field that needs a viewer when there is none.
pub fn unauthenticated() -> Error {
    coded("User must be authorized.", "UNAUTHENTICATED")
}

/// An input that is not what the schema's description promises.
pub fn bad_input(message: impl Into<String>) -> Error {
    coded(message, "BAD_USER_INPUT")
}

/// A GraphQL error with `extensions.code`.
pub fn coded(message: impl Into<String>, code: &'static str) -> Error {
    Error::new(message).extend_with(|_, e| e.set("code", code))
}

impl ErrorExtensions for ServiceError {
    fn extend(&self) -> Error {
        let code = match self {
            ServiceError::SelfRelation(_) => "BAD_USER_INPUT",
            ServiceError::UnknownUser(_) => "NOT_FOUND",
            ServiceError::BlockedByTarget | ServiceError::TargetBlocked => "FORBIDDEN",
            ServiceError::Unavailable(cause) => {
                tracing::warn!(error = %cause, "database unavailable");
                "SERVICE_UNAVAILABLE"
            }
            ServiceError::Internal(cause) => {
                tracing::error!(error = ?cause, "internal error");
                "INTERNAL"
            }
            ServiceError::Aborted => "INTERNAL",
        };
        coded(self.to_string(), code)
    }
}

/// The error a request gets when its `Authorization` header is present but not acceptable.
pub fn auth_error(err: &AuthError) -> Error {
    match err {
        AuthError::Lookup(cause) => cause.extend(),
        _ => unauthenticated(),
    }
}

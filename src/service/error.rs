//! The service layer's one error type; each transport maps it once to its own wire form.

use std::sync::Arc;

use super::Action;
use crate::db::DbError;
use crate::domain::ids::UserId;

/// Why a follow-graph operation was refused or failed. Cloneable, because one database failure
/// fails every write of the group that met it.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ServiceError {
    /// Nobody follows or blocks themselves.
    #[error("{}", self_message(*.0))]
    SelfRelation(Action),
    /// The target is not in `user_basic`.
    #[error("User does not exist.")]
    UnknownUser(UserId),
    /// The target has blacklisted the acting user, who therefore cannot follow them.
    #[error("This user has blocked you.")]
    BlockedByTarget,
    /// The acting user has blacklisted the target and must unblock before following.
    #[error("You have blocked this user; unblock them first.")]
    TargetBlocked,
    /// The database could not be reached in time; the client may retry.
    #[error("The service is temporarily unavailable.")]
    Unavailable(#[source] Arc<DbError>),
    /// The task running a write panicked or was cancelled by a shutdown.
    #[error("Internal error.")]
    Aborted,
    /// A bug or a broken schema: logged in full, reported without detail.
    #[error("Internal error.")]
    Internal(#[source] Arc<DbError>),
}

fn self_message(action: Action) -> &'static str {
    match action {
        Action::Follow | Action::Unfollow => "User cannot follow self.",
        Action::Block | Action::Unblock => "User cannot blacklist self.",
    }
}

impl From<DbError> for ServiceError {
    fn from(err: DbError) -> Self {
        match err {
            DbError::Unavailable(_) => ServiceError::Unavailable(Arc::new(err)),
            _ => ServiceError::Internal(Arc::new(err)),
        }
    }
}

//! The service layer's one error type; each transport maps it once to its own wire form.

use std::sync::Arc;

use super::Action;
use crate::db::DbError;
use crate::domain::ids::UserId;
use crate::domain::page::Side;

/// Why a follow-graph operation was refused or failed. Cloneable, because one database failure
/// fails every write of the group that met it. The messages are for developers and logs; each
/// transport words what its clients see (`rest/envelope.rs`, `graphql/error.rs`).
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum ServiceError {
    /// Nobody follows or blocks themselves.
    #[error("{0:?} with the viewer as its own target")]
    SelfRelation(Action),
    /// The target is not in `user_basic`.
    #[error("user {0} is not in user_basic")]
    UnknownUser(UserId),
    /// The target has blacklisted the acting user, who therefore cannot follow them.
    #[error("the target has blacklisted the viewer")]
    BlockedByTarget,
    /// The acting user has blacklisted the target and must unblock before following.
    #[error("the viewer has blacklisted the target")]
    TargetBlocked,
    /// The actor accepted a follow request that the target has not made (or that ended).
    #[error("no pending follow request from the target")]
    NoFollowRequest,
    /// The owner's settings hide this list (and its count) from the viewer.
    #[error("the owner's {0:?} list is hidden from the viewer")]
    ListHidden(Side),
    /// The database could not be reached in time; the client may retry. Logged where it arose.
    #[error("database unavailable")]
    Unavailable(#[source] Arc<DbError>),
    /// A subscription asked to resume after an event its user has not had yet.
    #[error("after names an event past the user's newest")]
    AfterNewestEvent,
    /// The viewer holds as many subscriptions on this instance as it may.
    #[error("the viewer holds {0} subscriptions already")]
    TooManySubscriptions(usize),
    /// A subscriber fell so far behind that its buffer filled; it was cut off.
    #[error("the subscriber fell behind its buffer")]
    SlowSubscriber,
    /// The task running a write panicked or was cancelled by a shutdown.
    #[error("the write task ended before answering")]
    Aborted,
    /// A bug or a broken schema; logged in full where it arose, reported without detail.
    #[error("database call failed")]
    Internal(#[source] Arc<DbError>),
}

impl ServiceError {
    /// A lost deadlock: the whole write group may run again.
    pub(crate) fn is_conflict(&self) -> bool {
        matches!(self, ServiceError::Unavailable(cause) if matches!(**cause, DbError::Conflict(_)))
    }
}

impl From<DbError> for ServiceError {
    /// Logs the cause, once: this is where a database failure becomes the service's, however
    /// many requests (a write group, a batch's fields) then share it.
    fn from(err: DbError) -> Self {
        match err {
            // A deadlock that outlived its retries answers as a busy database does.
            DbError::Unavailable(_) | DbError::Conflict(_) => {
                tracing::warn!(error = %err, "database unavailable");
                ServiceError::Unavailable(Arc::new(err))
            }
            _ => {
                tracing::error!(error = ?err, "database call failed");
                ServiceError::Internal(Arc::new(err))
            }
        }
    }
}

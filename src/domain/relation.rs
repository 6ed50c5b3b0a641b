//! The legacy `user_relation.relation` column and the rules' view of one pair of users.

use chrono::{DateTime, Utc};

use super::ids::UserId;

/// What one user has done to another, as the legacy table encodes it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) enum Relation {
    /// 0: no relation; an unfollowed or unblocked pair keeps its row with this value.
    #[default]
    None,
    /// 1: the user follows the target.
    Follow,
    /// 2: the user has blacklisted (blocked) the target.
    Blacklist,
}

impl Relation {
    /// The legacy column value.
    pub(crate) fn code(self) -> i16 {
        match self {
            Relation::None => 0,
            Relation::Follow => 1,
            Relation::Blacklist => 2,
        }
    }

    /// Reads the legacy column; an unknown code reads as no relation, as the legacy app treats it.
    pub(crate) fn from_code(code: i16) -> Self {
        match code {
            1 => Relation::Follow,
            2 => Relation::Blacklist,
            _ => Relation::None,
        }
    }
}

/// The relations and follow requests between two users in both directions, and whether the
/// target approves its followers, as read under the pair's lock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct PairState {
    /// What the acting user has done to the target.
    pub(crate) forward: Relation,
    /// What the target has done to the acting user.
    pub(crate) backward: Relation,
    /// The acting user has asked to follow the target.
    pub(crate) forward_requested: bool,
    /// The target has asked to follow the acting user.
    pub(crate) backward_requested: bool,
    /// The target's account is locked: a follow of it is a request (SPEC §14).
    pub(crate) target_locked: bool,
}

/// Where one user's follow of another stands (SPEC §14's `FollowState`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FollowState {
    Following,
    /// Asked and waiting for the (locked) followee's answer.
    Requested,
    None,
}

/// What a write did to a follow request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum RequestStep {
    /// The requester asked to follow a locked account.
    Opened,
    /// The target accepted: the request became a follow.
    Accepted,
    /// The request ended without a follow: rejected, cancelled, unfollowed, or a block.
    Closed,
}

/// One change to a follow request that a write committed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RequestChange {
    pub(crate) requester: UserId,
    pub(crate) target: UserId,
    pub(crate) step: RequestStep,
    pub(crate) at: DateTime<Utc>,
}

impl RequestChange {
    /// Whether the change makes the request (every other step ends it).
    pub(crate) fn is_opening(&self) -> bool {
        self.step == RequestStep::Opened
    }
}

/// One row change that a write committed: the cache layer replays these.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RelationChange {
    pub(crate) user: UserId,
    pub(crate) target: UserId,
    pub(crate) from: Relation,
    pub(crate) to: Relation,
    /// The row's new `update_time`.
    pub(crate) at: DateTime<Utc>,
}

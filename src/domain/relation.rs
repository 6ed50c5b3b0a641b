//! The legacy `user_relation.relation` column and the rules' view of one pair of users.

use chrono::{DateTime, Utc};

use super::ids::UserId;

/// What one user has done to another, as the legacy table encodes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Relation {
    /// 0: no relation; an unfollowed or unblocked pair keeps its row with this value.
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

/// The relations between two users in both directions, as read under the pair's lock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PairState {
    /// What the acting user has done to the target.
    pub(crate) forward: Relation,
    /// What the target has done to the acting user.
    pub(crate) backward: Relation,
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

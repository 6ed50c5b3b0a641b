//! What the service shows of a user.

use super::ids::UserId;

/// The public profile kept by the legacy user service in `user_basic`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct UserProfile {
    pub(crate) id: UserId,
    pub(crate) name: String,
    pub(crate) photo: Option<String>,
}

/// Exact counts of relation-1 rows on each side of a user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct FollowCounts {
    pub(crate) following: i64,
    pub(crate) followers: i64,
}

/// Which of a viewer's relations with other users to read: each costs one row lookup per user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Directions {
    /// The viewer's row and request to each user: `viewer_is_following`, `viewer_has_blocked`,
    /// `viewer_has_requested`.
    pub(crate) outgoing: bool,
    /// Each user's row to the viewer: `is_following_viewer`.
    pub(crate) incoming: bool,
}

impl Directions {
    pub(crate) const OUTGOING: Directions = Directions { outgoing: true, incoming: false };
    pub(crate) const INCOMING: Directions = Directions { outgoing: false, incoming: true };
    pub(crate) const BOTH: Directions = Directions { outgoing: true, incoming: true };

    /// Whether every relation `self` reads is read by `other` too.
    pub(crate) fn within(self, other: Directions) -> bool {
        (!self.outgoing || other.outgoing) && (!self.incoming || other.incoming)
    }
}

/// How a viewer and another user stand towards each other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ViewerFlags {
    pub(crate) viewer_is_following: bool,
    pub(crate) is_following_viewer: bool,
    pub(crate) viewer_has_blocked: bool,
    /// The viewer's request to follow the user is pending (SPEC §14).
    pub(crate) viewer_has_requested: bool,
}

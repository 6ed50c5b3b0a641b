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

/// How a viewer and another user stand towards each other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct ViewerFlags {
    pub(crate) viewer_is_following: bool,
    pub(crate) is_following_viewer: bool,
    pub(crate) viewer_has_blocked: bool,
}

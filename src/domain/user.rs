//! What the service shows of a user.

use super::ids::UserId;

/// The public profile kept by the legacy user service in `user_basic`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserProfile {
    pub id: UserId,
    pub name: String,
    pub photo: Option<String>,
}

/// Exact counts of relation-1 rows on each side of a user.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FollowCounts {
    pub following: i64,
    pub followers: i64,
}

/// How a viewer and another user stand towards each other.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ViewerFlags {
    pub viewer_is_following: bool,
    pub is_following_viewer: bool,
    pub viewer_has_blocked: bool,
}

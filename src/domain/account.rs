//! A user's settings of the service's own (SPEC §14): whether the account approves its
//! followers, and who may see each of its lists.

use super::page::Side;

/// Who may see one of a user's lists and its count. The user always may.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub(crate) enum ListVisibility {
    #[default]
    Everyone,
    /// Only the user's followers.
    Followers,
    OnlyMe,
}

impl ListVisibility {
    /// The stored code (`followgraph_accounts.*_visibility`).
    pub(crate) fn code(self) -> i16 {
        match self {
            ListVisibility::Everyone => 0,
            ListVisibility::Followers => 1,
            ListVisibility::OnlyMe => 2,
        }
    }

    /// Reads a stored code; a code this build does not know hides the list, the safe reading.
    pub(crate) fn from_code(code: i64) -> Self {
        match code {
            0 => ListVisibility::Everyone,
            1 => ListVisibility::Followers,
            _ => ListVisibility::OnlyMe,
        }
    }

    /// Whether a viewer who is not the list's owner may see it: `follows_owner` says whether
    /// that viewer follows the owner (false for an anonymous one).
    pub(crate) fn shows_to_other(self, follows_owner: bool) -> bool {
        match self {
            ListVisibility::Everyone => true,
            ListVisibility::Followers => follows_owner,
            ListVisibility::OnlyMe => false,
        }
    }
}

/// A user's settings; a user who never set one has the defaults.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct AccountSettings {
    /// A follow of the user is a request until the user accepts it.
    pub(crate) locked: bool,
    pub(crate) followers: ListVisibility,
    pub(crate) following: ListVisibility,
}

/// Which of a user's lists (and their counts) one viewer may see.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ListAccess {
    pub(crate) followers: bool,
    pub(crate) following: bool,
}

impl ListAccess {
    /// Both lists: the owner's own, or a user with the default settings.
    pub(crate) const ALL: ListAccess = ListAccess { followers: true, following: true };
    /// Neither: what a user whose access is unknown gets, so that no gap shows a list.
    pub(crate) const NONE: ListAccess = ListAccess { followers: false, following: false };

    /// What a viewer who is not the owner may see of a user with `settings`.
    pub(crate) fn of_other(settings: &AccountSettings, follows_owner: bool) -> Self {
        ListAccess {
            followers: settings.followers.shows_to_other(follows_owner),
            following: settings.following.shows_to_other(follows_owner),
        }
    }

    /// Whether the list of `side` may be seen.
    pub(crate) fn sees(&self, side: Side) -> bool {
        match side {
            Side::Followers => self.followers,
            Side::Following => self.following,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_visibility_shows_a_list_to_whom_it_says() {
        use ListVisibility::{Everyone, Followers, OnlyMe};
        assert!(Everyone.shows_to_other(false));
        assert!(Followers.shows_to_other(true) && !Followers.shows_to_other(false));
        assert!(!OnlyMe.shows_to_other(true));
        for visibility in [Everyone, Followers, OnlyMe] {
            assert_eq!(ListVisibility::from_code(i64::from(visibility.code())), visibility);
        }
        assert_eq!(ListVisibility::from_code(9), OnlyMe, "an unknown code hides");
    }

    #[test]
    fn the_lists_are_judged_apart() {
        let settings = AccountSettings {
            locked: false,
            followers: ListVisibility::OnlyMe,
            following: ListVisibility::Followers,
        };
        let stranger = ListAccess::of_other(&settings, false);
        assert_eq!(stranger, ListAccess { followers: false, following: false });
        let follower = ListAccess::of_other(&settings, true);
        assert!(follower.sees(Side::Following) && !follower.sees(Side::Followers));
    }
}

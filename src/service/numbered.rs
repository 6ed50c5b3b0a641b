//! The legacy REST lists: numbered pages of a user's followings or followers, with each listed
//! user's follower count and whether the follow is mutual.

use tracing::instrument;

use super::{Service, ServiceError};
use crate::domain::ids::UserId;
use crate::domain::page::Side;
use crate::domain::user::{Directions, UserProfile};

/// A user on a legacy numbered page: the fields the legacy list shows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ListedUser {
    pub(crate) profile: UserProfile,
    /// The listed user's follower count; `None` when that user hides it from the list's owner.
    pub(crate) followers: Option<i64>,
    /// Whether the follow goes both ways between the list's owner and this user.
    pub(crate) mutual: bool,
}

/// One numbered page of a list, as the legacy app paged it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NumberedPage {
    pub(crate) total: usize,
    pub(crate) users: Vec<ListedUser>,
}

impl Service {
    /// Page `page` (from 1) of `per_page` entries of `owner`'s list. Legacy clients page by
    /// number, so this slices the whole list (from the cache when it is there).
    #[instrument(skip(self), fields(owner = %owner))]
    pub(crate) async fn numbered_page(
        &self,
        side: Side,
        owner: UserId,
        page: usize,
        per_page: usize,
    ) -> Result<NumberedPage, ServiceError> {
        let list = self.list(side, owner).await?;
        let start = page.saturating_sub(1).saturating_mul(per_page);
        let ids: Vec<UserId> = list.iter().skip(start).take(per_page).map(|e| e.user).collect();
        if ids.is_empty() {
            return Ok(NumberedPage { total: list.len(), users: Vec::new() });
        }
        let (profiles, counts, flags, access) = tokio::try_join!(
            self.users(&ids),
            self.counts(&ids),
            self.viewer_flags(owner, &ids, Directions::BOTH),
            self.list_access(Some(owner), &ids)
        )?;
        let users = ids
            .iter()
            .filter_map(|id| {
                let profile = profiles.get(id)?.clone();
                let flags = flags.get(id).copied().unwrap_or_default();
                let mutual = flags.viewer_is_following && flags.is_following_viewer;
                let shown = access.get(id).is_some_and(|a| a.sees(Side::Followers));
                let followers = shown.then(|| counts.get(id).map_or(0, |c| c.followers));
                Some(ListedUser { profile, followers, mutual })
            })
            .collect();
        Ok(NumberedPage { total: list.len(), users })
    }
}

//! A user's settings (SPEC §14): locked accounts and the reads of their pending requests, and
//! who may see each list, applied here for every transport. Requests themselves are opened,
//! accepted and ended by the write path (`write.rs`, rules in `rules.rs`), under their pair's
//! lock, like every follow.

use std::collections::{HashMap, HashSet};

use tracing::instrument;

use super::{Service, ServiceError, MAX_PAGE};
use crate::domain::account::{AccountSettings, ListAccess, ListVisibility};
use crate::domain::ids::UserId;
use crate::domain::page::{Page, PageRequest, Side};
use crate::domain::user::Directions;

impl Service {
    /// Locks or unlocks `user`'s account. From then on a follow of a locked account is a
    /// request. Unlocking leaves pending requests for the user to accept or reject; a requester
    /// who follows again follows at once (and their old request ends).
    #[instrument(skip(self), fields(user = %user))]
    pub(crate) async fn set_locked(&self, user: UserId, locked: bool) -> Result<(), ServiceError> {
        self.round_trip(self.shared.store.set_locked(user, locked)).await
    }

    /// Sets who may see `user`'s lists and their counts, from the next read on, on every
    /// instance (settings are read from the database, never kept).
    #[instrument(skip(self), fields(user = %user))]
    pub(crate) async fn set_list_visibility(
        &self,
        user: UserId,
        followers: ListVisibility,
        following: ListVisibility,
    ) -> Result<(), ServiceError> {
        self.round_trip(self.shared.store.set_visibility(user, followers, following)).await
    }

    /// The settings of every one of `ids` (the defaults for those who set none); one query for
    /// any number of ids.
    pub(crate) async fn settings(
        &self,
        ids: &[UserId],
    ) -> Result<HashMap<UserId, AccountSettings>, ServiceError> {
        let mut all: HashMap<UserId, AccountSettings> =
            ids.iter().map(|&id| (id, AccountSettings::default())).collect();
        all.extend(self.round_trip(self.shared.store.settings(ids)).await?);
        Ok(all)
    }

    /// Which lists of each of `owners` `viewer` (or an anonymous client) may see, with their
    /// counts: the one place the visibility rules are applied, for every transport. The owner
    /// sees both; others as the owner's settings say, the `FOLLOWERS` setting by whether the
    /// viewer follows the owner. At most two queries for any number of owners, and none when
    /// the viewer lists only their own.
    #[instrument(skip(self, owners), fields(owners = owners.len()))]
    pub(crate) async fn list_access(
        &self,
        viewer: Option<UserId>,
        owners: &[UserId],
    ) -> Result<HashMap<UserId, ListAccess>, ServiceError> {
        let mut access: HashMap<UserId, ListAccess> =
            owners.iter().map(|&owner| (owner, ListAccess::ALL)).collect();
        let others: Vec<UserId> = owners.iter().copied().filter(|&o| Some(o) != viewer).collect();
        if others.is_empty() {
            return Ok(access);
        }
        let set = self.round_trip(self.shared.store.settings(&others)).await?;
        let by_followers =
            |s: &AccountSettings| [s.followers, s.following].contains(&ListVisibility::Followers);
        let to_followers: Vec<UserId> =
            set.iter().filter(|(_, s)| by_followers(s)).map(|(id, _)| *id).collect();
        let followed: HashSet<UserId> = match viewer {
            Some(viewer) if !to_followers.is_empty() => {
                let flags = self.viewer_flags(viewer, &to_followers, Directions::OUTGOING);
                let flags = flags.await?;
                flags.into_iter().filter(|(_, f)| f.viewer_is_following).map(|(id, _)| id).collect()
            }
            _ => HashSet::new(),
        };
        for (owner, settings) in set {
            access.insert(owner, ListAccess::of_other(&settings, followed.contains(&owner)));
        }
        Ok(access)
    }

    /// A page of the requests pending for `user`, newest first.
    #[instrument(skip(self), fields(user = %user))]
    pub(crate) async fn follow_requests(
        &self,
        user: UserId,
        request: &PageRequest,
    ) -> Result<Page, ServiceError> {
        let request = PageRequest { first: request.first.min(MAX_PAGE), ..*request };
        self.round_trip(self.shared.store.request_page(user, &request)).await
    }

    /// How many requests are pending for `user`.
    pub(crate) async fn follow_request_count(&self, user: UserId) -> Result<i64, ServiceError> {
        self.round_trip(self.shared.store.request_count(user)).await
    }
}

/// `Ok` when `access` shows the list of `side`; the refusal every transport maps otherwise.
pub(crate) fn check_list(access: &ListAccess, side: Side) -> Result<(), ServiceError> {
    match access.sees(side) {
        true => Ok(()),
        false => Err(ServiceError::ListHidden(side)),
    }
}

//! Locked accounts and their follow requests (SPEC §14): the settings and the reads of pending
//! requests. Requests themselves are opened, accepted and ended by the write path
//! (`write.rs`, rules in `rules.rs`), under their pair's lock, like every follow.

use std::collections::HashSet;

use tracing::instrument;

use super::{Service, ServiceError, MAX_PAGE};
use crate::domain::ids::UserId;
use crate::domain::page::{Page, PageRequest};

impl Service {
    /// Locks or unlocks `user`'s account. From then on a follow of a locked account is a
    /// request. Unlocking leaves pending requests for the user to accept or reject; a requester
    /// who follows again follows at once (and their old request ends).
    #[instrument(skip(self), fields(user = %user))]
    pub(crate) async fn set_locked(&self, user: UserId, locked: bool) -> Result<(), ServiceError> {
        self.round_trip(self.shared.store.set_locked(user, locked)).await
    }

    /// Those of `ids` whose accounts are locked; one query for any number of ids.
    pub(crate) async fn locked(&self, ids: &[UserId]) -> Result<HashSet<UserId>, ServiceError> {
        let locked = self.round_trip(self.shared.store.locked_users(ids)).await?;
        Ok(locked.into_iter().collect())
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

//! Batched reads of profiles and viewer flags: any number of ids, one query each.

use std::collections::HashMap;

use tracing::instrument;

use super::{Service, ServiceError};
use crate::domain::ids::UserId;
use crate::domain::relation::Relation;
use crate::domain::user::{Directions, UserProfile, ViewerFlags};

impl Service {
    /// The profiles of the ids that exist: from memory where recently read, else one query.
    #[instrument(skip_all, fields(ids = ids.len()))]
    pub(crate) async fn users(
        &self,
        ids: &[UserId],
    ) -> Result<HashMap<UserId, UserProfile>, ServiceError> {
        let (mut found, missing) = self.shared.profiles.get_many(ids);
        if missing.is_empty() {
            return Ok(found);
        }
        let read = self.round_trip(self.shared.store.users(&missing)).await?;
        self.shared.profiles.insert_many(read.iter().cloned());
        found.extend(read.into_iter().map(|u| (u.id, u)));
        Ok(found)
    }

    /// The profiles among `ids` that are in memory, and the ids that [`Service::users`] would
    /// have to read: a caller that batches its reads asks only for those.
    pub(crate) fn remembered_users(
        &self,
        ids: &[UserId],
    ) -> (HashMap<UserId, UserProfile>, Vec<UserId>) {
        self.shared.profiles.get_many(ids)
    }

    /// Whether a user exists: a token's `user_id` must name one.
    pub(crate) async fn user_exists(&self, id: UserId) -> Result<bool, ServiceError> {
        Ok(self.users(&[id]).await?.contains_key(&id))
    }

    /// How `viewer` and each of `others` stand towards each other, as far as `directions`
    /// reads (a flag of a direction not read is false).
    #[instrument(skip(self, others), fields(viewer = %viewer, others = others.len()))]
    pub(crate) async fn viewer_flags(
        &self,
        viewer: UserId,
        others: &[UserId],
        directions: Directions,
    ) -> Result<HashMap<UserId, ViewerFlags>, ServiceError> {
        let mut flags: HashMap<UserId, ViewerFlags> =
            others.iter().map(|&id| (id, ViewerFlags::default())).collect();
        let read = self.shared.store.relations_with(viewer, others, directions);
        let found = self.round_trip(read).await?;
        for (requester, target) in found.requests {
            match flags.get_mut(&target) {
                Some(f) if requester == viewer => f.viewer_has_requested = true,
                _ => {}
            }
        }
        for r in found.relations {
            let outgoing = r.user == viewer;
            let other = if outgoing { r.target } else { r.user };
            let Some(f) = flags.get_mut(&other) else { continue };
            match (outgoing, r.relation) {
                (true, Relation::Follow) => f.viewer_is_following = true,
                (true, Relation::Blacklist) => f.viewer_has_blocked = true,
                (false, Relation::Follow) => f.is_following_viewer = true,
                _ => {}
            }
        }
        Ok(flags)
    }
}

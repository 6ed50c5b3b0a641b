//! Exact following and follower counts, from the legacy count zsets where they are filled and
//! from the database otherwise.

use std::collections::HashMap;

use tracing::instrument;

use super::lists::split;
use super::{Service, ServiceError};
use crate::domain::ids::UserId;
use crate::domain::user::FollowCounts;

impl Service {
    /// Counts for each id (zero for unknown ids); at most one Redis lookup, one database query
    /// for the misses and one Redis fill, whatever the number of ids.
    #[instrument(skip_all, fields(ids = ids.len()))]
    pub(crate) async fn counts(
        &self,
        ids: &[UserId],
    ) -> Result<HashMap<UserId, FollowCounts>, ServiceError> {
        let Some(cache) = self.readable_cache() else {
            return self.db_counts(ids).await;
        };
        self.meter.redis();
        let Ok(lookups) = cache.counts(ids).await else {
            return self.db_counts(ids).await;
        };
        let (mut counts, misses) = split("counts", lookups);
        if misses.is_empty() {
            return Ok(counts);
        }
        let missed: Vec<UserId> = misses.iter().map(|(id, _)| *id).collect();
        let loaded = self.db_counts(&missed).await?;
        let fills: Vec<_> = misses
            .into_iter()
            .filter_map(|(id, ticket)| {
                Some((id, ticket?, loaded.get(&id).copied().unwrap_or_default()))
            })
            .collect();
        if !fills.is_empty() {
            self.meter.redis();
            let _ = cache.fill_counts(&fills).await;
        }
        counts.extend(loaded);
        Ok(counts)
    }

    async fn db_counts(
        &self,
        ids: &[UserId],
    ) -> Result<HashMap<UserId, FollowCounts>, ServiceError> {
        Ok(self.round_trip(self.shared.store.counts(ids)).await?.into_iter().collect())
    }
}

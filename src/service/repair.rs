//! Keeping every instance's cache honest after a fault (SPEC §13). A write that cannot mark its
//! users in Redis lists them in the database, in its own transaction (`write.rs`), so the list
//! outlives the Redis outage and the instance. Every instance's repair task reads the list
//! every [`REPAIR_EVERY`]: listed users are dirty there too (its reads of the cache stop), and
//! once Redis answers their cached data is forgotten and the listings removed. A user listed
//! again meanwhile keeps its row (it carries the newer listing's time) and is repaired again.
//!
//! So after a write that could not reach Redis, another instance may serve a user's old
//! entries for at most one round of this task (its writer's instance stops at once); no entry
//! survives the repair, and a fill that read the database before it fails its generation check.

use std::sync::{Arc, Weak};
use std::time::Duration;

use super::{Service, Shared};
use crate::cache::Cache;

/// How often each instance reads the repair list and repairs what it can.
pub(super) const REPAIR_EVERY: Duration = Duration::from_millis(200);

/// Starts the repair task when there is a cache; it ends once the service is dropped.
pub(super) fn start(shared: &Arc<Shared>) {
    if shared.cache.is_some() {
        tokio::spawn(repair(Arc::downgrade(shared)));
    }
}

async fn repair(shared: Weak<Shared>) {
    loop {
        tokio::time::sleep(REPAIR_EVERY).await;
        let Some(service) = Service::upgrade(&shared) else { return };
        let Some(cache) = service.shared.cache.as_ref() else { return };
        service.repair_round(cache).await;
    }
}

impl Service {
    /// One round: take in the database's listings, forget the dirty users' cached data, then
    /// remove the listings that were forgotten.
    async fn repair_round(&self, cache: &Cache) {
        let listed = match self.shared.store.users_to_repair().await {
            Ok(listed) => listed,
            Err(err) => {
                self.shared.store.note_failure(&err);
                tracing::debug!(error = %err, "repair list unread this round");
                Vec::new()
            }
        };
        cache.mark_dirty(listed.iter().map(|&(user, _)| user));
        let dirty = cache.dirty_users();
        if dirty.is_empty() || cache.forget(&dirty).await.is_err() {
            return;
        }
        for listing in listed {
            if let Err(err) = self.shared.store.repaired(listing).await {
                tracing::debug!(error = %err, "repaired user still listed; next round");
            }
        }
        cache.cleared(&dirty);
        tracing::info!(users = dirty.len(), "forgot possibly stale cache entries");
    }
}

//! An in-process cache of user profiles. `user_basic` belongs to the legacy user service and
//! changes rarely, while every request reads it (the token's user must exist; every listed user
//! has a name), so profiles are kept for a short time here instead of asked for each time. A
//! renamed user shows the new name within [`PROFILE_TTL`]; an unknown id is never cached.

use std::collections::HashMap;
use std::time::Duration;

use crate::domain::ids::UserId;
use crate::domain::user::UserProfile;

/// How long a profile is served from memory.
pub const PROFILE_TTL: Duration = Duration::from_secs(60);

/// How many profiles are kept at most (a few hundred bytes each).
const CAPACITY: u64 = 200_000;

/// Profiles by id; cheap to clone (shared).
#[derive(Clone)]
pub struct ProfileCache(moka::future::Cache<UserId, UserProfile>);

impl Default for ProfileCache {
    fn default() -> Self {
        Self(
            moka::future::Cache::builder().max_capacity(CAPACITY).time_to_live(PROFILE_TTL).build(),
        )
    }
}

impl std::fmt::Debug for ProfileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileCache").field("entries", &self.0.entry_count()).finish()
    }
}

impl ProfileCache {
    /// The cached profiles among `ids`, and the ids that must be read.
    pub async fn get_many(&self, ids: &[UserId]) -> (HashMap<UserId, UserProfile>, Vec<UserId>) {
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for &id in ids {
            match self.0.get(&id).await {
                Some(profile) => {
                    found.insert(id, profile);
                }
                None => missing.push(id),
            }
        }
        (found, missing)
    }

    /// Keeps profiles just read.
    pub async fn insert_many(&self, profiles: impl IntoIterator<Item = UserProfile>) {
        for profile in profiles {
            self.0.insert(profile.id, profile).await;
        }
    }
}

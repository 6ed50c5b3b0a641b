//! An in-process cache of user profiles. `user_basic` belongs to the legacy user service and
//! changes rarely, while every request reads it (the token's user must exist; every listed user
//! has a name), so profiles are kept for a short time here instead of asked for each time. A
//! renamed user shows the new name within [`PROFILE_TTL`]; an unknown id is never cached.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::domain::ids::UserId;
use crate::domain::user::UserProfile;

/// How long a profile is served from memory.
pub(crate) const PROFILE_TTL: Duration = Duration::from_secs(60);

/// How many profiles are kept at most: about 5 MB. Beyond that the least used are evicted
/// (S3-FIFO), so a scan over many users cannot push out the hot ones.
const CAPACITY: usize = 20_000;

/// A profile and when it stops being served.
#[derive(Clone)]
struct Entry {
    profile: UserProfile,
    expires: Instant,
}

/// Profiles by id; cheap to clone (shared). quick_cache rather than a cache with its own
/// expiry machinery: every request reads here tens of times, and a lookup must cost no more
/// than a hash table's. Expiry is checked on read.
#[derive(Clone)]
pub(crate) struct ProfileCache(Arc<quick_cache::sync::Cache<UserId, Entry>>);

impl Default for ProfileCache {
    fn default() -> Self {
        Self(Arc::new(quick_cache::sync::Cache::new(CAPACITY)))
    }
}

impl std::fmt::Debug for ProfileCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ProfileCache").field("entries", &self.0.len()).finish()
    }
}

impl ProfileCache {
    /// The cached, unexpired profiles among `ids`, and the ids that must be read.
    pub(crate) fn get_many(&self, ids: &[UserId]) -> (HashMap<UserId, UserProfile>, Vec<UserId>) {
        let now = Instant::now();
        let mut found = HashMap::with_capacity(ids.len());
        let mut missing = Vec::new();
        for &id in ids {
            match self.0.get(&id).filter(|entry| entry.expires > now) {
                Some(entry) => {
                    found.insert(id, entry.profile);
                }
                None => missing.push(id),
            }
        }
        (found, missing)
    }

    /// Keeps profiles just read, for [`PROFILE_TTL`].
    pub(crate) fn insert_many(&self, profiles: impl IntoIterator<Item = UserProfile>) {
        let expires = Instant::now() + PROFILE_TTL;
        for profile in profiles {
            self.0.insert(profile.id, Entry { profile, expires });
        }
    }
}

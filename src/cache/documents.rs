//! Persisted GraphQL documents by hash, shared by every instance on this Redis. A document is a
//! function of its hash, so an entry can never be stale; it only expires when unused.

use std::time::Duration;

use super::link::Unit;
use super::{keys, Cache, CacheError};

/// How long a persisted document is kept after it was last stored: clients send the full text
/// again whenever they meet `PERSISTED_QUERY_NOT_FOUND`, so expiry costs one round trip.
const DOCUMENT_TTL: Duration = Duration::from_secs(7 * 24 * 3600);

impl Cache {
    /// The document persisted under `hash`, if any.
    pub(crate) async fn persisted_document(
        &self,
        hash: &str,
    ) -> Result<Option<String>, CacheError> {
        if self.cooling_down() {
            return Err(CacheError::Down);
        }
        let key = keys::document(hash);
        let mut unit = Unit::new(key.as_str());
        unit.add(redis::Cmd::get(&key));
        self.ask(unit).await
    }

    /// Keeps `text` under `hash` for [`DOCUMENT_TTL`].
    pub(crate) async fn persist_document(&self, hash: &str, text: &str) -> Result<(), CacheError> {
        if self.cooling_down() {
            return Err(CacheError::Down);
        }
        let key = keys::document(hash);
        let mut unit = Unit::new(key.as_str());
        unit.add(redis::Cmd::set_ex(&key, text, DOCUMENT_TTL.as_secs()));
        self.ask::<()>(unit).await
    }
}

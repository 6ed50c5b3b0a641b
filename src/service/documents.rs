//! Persisted GraphQL documents (APQ): kept in Redis when a cache is configured, so that every
//! instance knows a hash any of them was given, and in process memory in front of it (a
//! document is a function of its hash, so a copy can never be stale).

use std::sync::Arc;

use quick_cache::sync::Cache as Lru;

use super::Service;

/// The process's copy of persisted documents: at most this many bytes of text.
const LOCAL_BYTES: u64 = 8 * 1024 * 1024;

/// Documents by hash, weighed by their length.
#[derive(Clone)]
pub(super) struct LocalDocuments(Arc<Lru<String, Arc<str>, TextWeight>>);

#[derive(Clone)]
struct TextWeight;

impl quick_cache::Weighter<String, Arc<str>> for TextWeight {
    fn weight(&self, hash: &String, text: &Arc<str>) -> u64 {
        (hash.len() + text.len()) as u64
    }
}

impl Default for LocalDocuments {
    fn default() -> Self {
        Self(Arc::new(Lru::with_weighter(4096, LOCAL_BYTES, TextWeight)))
    }
}

impl std::fmt::Debug for LocalDocuments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalDocuments").field("entries", &self.0.len()).finish()
    }
}

impl Service {
    /// The document persisted under `hash`, from memory or the shared store. A Redis fault reads
    /// as "unknown": the client then sends the document itself.
    pub(crate) async fn persisted_document(&self, hash: &str) -> Option<String> {
        if let Some(text) = self.shared.documents.0.get(hash) {
            return Some(text.to_string());
        }
        let cache = self.shared.cache.as_ref()?;
        self.meter.redis();
        let text = cache.persisted_document(hash).await.ok()??;
        self.shared.documents.0.insert(hash.to_owned(), Arc::from(text.as_str()));
        Some(text)
    }

    /// Keeps a document under its hash, in memory and in the shared store.
    pub(crate) async fn persist_document(&self, hash: &str, text: &str) {
        if self.shared.documents.0.get(hash).is_some() {
            return;
        }
        self.shared.documents.0.insert(hash.to_owned(), Arc::from(text));
        if let Some(cache) = &self.shared.cache {
            self.meter.redis();
            let _ = cache.persist_document(hash, text).await;
        }
    }
}

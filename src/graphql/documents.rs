//! Parsed query documents, kept by their text. Clients send the same few queries over and over,
//! and a document is a function of its text alone; parsing was 7% of the service's CPU on a
//! cached read (`BENCHMARKS.md`). Validation still runs on every request.

use std::sync::Arc;

use async_graphql::parser::{parse_query, types::ExecutableDocument};

/// Texts longer than this are parsed each time: the cache is for the queries clients repeat.
const MAX_KEPT_TEXT: usize = 8 * 1024;

/// The weight budget: a document is counted as its text plus [`DOCUMENT_OVERHEAD`].
const CAPACITY: u64 = 4 * 1024 * 1024;

/// A rough size of a small parsed document beside its text.
const DOCUMENT_OVERHEAD: u64 = 2 * 1024;

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub struct DocumentCache(Arc<quick_cache::sync::Cache<String, ExecutableDocument, TextWeight>>);

#[derive(Clone)]
struct TextWeight;

impl quick_cache::Weighter<String, ExecutableDocument> for TextWeight {
    fn weight(&self, text: &String, _: &ExecutableDocument) -> u64 {
        text.len() as u64 + DOCUMENT_OVERHEAD
    }
}

impl Default for DocumentCache {
    fn default() -> Self {
        let estimated = (CAPACITY / DOCUMENT_OVERHEAD) as usize;
        Self(Arc::new(quick_cache::sync::Cache::with_weighter(estimated, CAPACITY, TextWeight)))
    }
}

impl DocumentCache {
    /// The document of `text`, from memory when the text was seen before; none if it does not
    /// parse (async-graphql parses it again to report the error).
    pub fn parse(&self, text: &str) -> Option<ExecutableDocument> {
        if let Some(document) = self.0.get(text) {
            return Some(document);
        }
        let document = parse_query(text).ok()?;
        if text.len() <= MAX_KEPT_TEXT {
            self.0.insert(text.to_owned(), document.clone());
        }
        Some(document)
    }
}

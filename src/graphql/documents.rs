//! Parsed query documents, kept by their text. Clients send the same few queries over and over,
//! and a document is a function of its text alone; parsing was 7% of the service's CPU on a
//! cached read (`BENCHMARKS.md`). Validation still runs on every request.

use std::sync::Arc;

use async_graphql::parser::types::{ExecutableDocument, Field, Selection, SelectionSet};
use async_graphql::parser::{parse_query, Error as ParseError};

/// Texts longer than this are parsed each time: the cache is for the queries clients repeat.
const MAX_KEPT_TEXT: usize = 8 * 1024;

/// The weight budget, in approximate bytes of text and parsed document. quick_cache splits it
/// over shards and does not keep a document heavier than a shard's share, so no single huge
/// document can take it over.
const CAPACITY: u64 = 4 * 1024 * 1024;

/// A generous size of one parsed field (a positioned node, its name and arguments), so that a
/// short text with thousands of fields weighs what it holds.
const SELECTION_BYTES: u64 = 512;

/// A document and what it weighs.
#[derive(Clone)]
struct Entry {
    document: ExecutableDocument,
    weight: u64,
}

/// Shared by every request; cheap to clone.
#[derive(Clone)]
pub(crate) struct DocumentCache(Arc<quick_cache::sync::Cache<String, Entry, Weight>>);

#[derive(Clone)]
struct Weight;

impl quick_cache::Weighter<String, Entry> for Weight {
    fn weight(&self, text: &String, entry: &Entry) -> u64 {
        text.len() as u64 + entry.weight
    }
}

impl Default for DocumentCache {
    fn default() -> Self {
        Self(Arc::new(quick_cache::sync::Cache::with_weighter(1024, CAPACITY, Weight)))
    }
}

impl DocumentCache {
    /// The document of `text`, from memory when the text was seen before. A text that does not
    /// parse is not kept.
    pub(crate) fn parse(&self, text: &str) -> Result<ExecutableDocument, ParseError> {
        if let Some(entry) = self.0.get(text) {
            return Ok(entry.document);
        }
        let document = parse_query(text)?;
        if text.len() <= MAX_KEPT_TEXT {
            let fields = sum_over_fields(&document, &|_| 1) as u64;
            let weight = fields * SELECTION_BYTES;
            self.0.insert(text.to_owned(), Entry { document: document.clone(), weight });
        }
        Ok(document)
    }
}

/// Sums `per_field` over every field of every operation and fragment of the document.
pub(crate) fn sum_over_fields(
    document: &ExecutableDocument,
    per_field: &dyn Fn(&Field) -> usize,
) -> usize {
    let operations = document.operations.iter().map(|(_, op)| &op.node.selection_set.node);
    let fragments = document.fragments.values().map(|f| &f.node.selection_set.node);
    operations.chain(fragments).map(|set| sum_in(set, per_field)).sum()
}

fn sum_in(set: &SelectionSet, per_field: &dyn Fn(&Field) -> usize) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                per_field(&field.node) + sum_in(&field.node.selection_set.node, per_field)
            }
            Selection::InlineFragment(fragment) => {
                sum_in(&fragment.node.selection_set.node, per_field)
            }
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_counted_in_operations_fragments_and_inline_fragments() {
        let text = "{ me: viewer { id ...F ... on User { name } } } fragment F on User { id name }";
        let document = parse_query(text).unwrap();
        assert_eq!(sum_over_fields(&document, &|_| 1), 5);
        assert_eq!(sum_over_fields(&document, &|field| usize::from(field.alias.is_some())), 1);
    }

    #[test]
    fn a_short_text_with_many_fields_weighs_its_fields_not_its_text() {
        let text = format!("{{ viewer {{ {} }} }}", "id ".repeat(100));
        let cache = DocumentCache::default();
        assert!(cache.parse(&text).is_ok());
        let weight = cache.0.weight();
        assert!(weight >= 100 * SELECTION_BYTES && weight > 100 * text.len() as u64, "{weight}");
        assert!(cache.parse("{ viewer {").is_err(), "a text that does not parse is not kept");
        assert_eq!(cache.0.len(), 1);
    }
}

//! Refusing abusive queries before any database or Redis work, with a stable error: each refusal
//! is `extensions.code = "QUERY_LIMIT"` and `extensions.limit` naming the limit (`size`,
//! `aliases`, `depth`, `complexity` or `persisted`). Errors that async-graphql itself raises about
//! a bad document or bad variables get `BAD_USER_INPUT`, so that every error a client sees has a
//! code.
//!
//! None of this is an async-graphql extension: an extension wraps the resolution of every field
//! in more boxed futures, which cost the 50-user fan-out (1,500 fields) a tenth of its CPU. Size,
//! aliases, depth and introspection are checked on the parsed document here; complexity by the
//! schema's own limit, whose error [`QueryLimits::recode`] turns into ours.

use std::collections::HashSet;

use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{ErrorExtensionValues, ServerError};

use super::documents::sum_over_fields;
use super::error::{code, request_error};

/// The depth an introspection-only document may have. The standard introspection query of
/// graphql-js 16 and 17 (which GraphiQL, Apollo and most tools send) is 15 deep; one more level
/// leaves room for a tool that asks one `ofType` deeper, while `__Type.fields → __Field.type`
/// cannot recurse without bound.
pub(crate) const INTROSPECTION_MAX_DEPTH: usize = 16;

/// The limits of one schema.
#[derive(Debug, Clone, Copy)]
pub(crate) struct QueryLimits {
    /// Largest query document, in bytes.
    pub(crate) max_document_bytes: usize,
    /// Most aliased fields in one document (aliases multiply work without multiplying size).
    pub(crate) max_aliases: usize,
    /// Deepest field nesting of a query that reads data.
    pub(crate) max_depth: usize,
    /// Highest cost; a connection costs its `first` times its children, `users` its id count.
    pub(crate) max_complexity: usize,
}

/// async-graphql's messages for its own limits (async-graphql 7): complexity, and the nesting of
/// fragments that its recursion guard counts (a bound below ours can never be hit first, but a
/// document of many nested inline fragments can).
const TOO_COMPLEX: &str = "Query is too complex.";
const TOO_RECURSIVE: &str = "The recursion depth of the query cannot be greater than";

impl QueryLimits {
    /// Refuses a document text over the size limit, before it is parsed.
    pub(crate) fn check_size(&self, text: &str) -> Result<(), ServerError> {
        let max = self.max_document_bytes;
        if text.len() > max {
            return Err(refusal("size", max));
        }
        Ok(())
    }

    /// Refuses a parsed document with too many aliases, nested too deep, or introspecting when
    /// introspection is off. A document that only introspects the schema (whose size bounds
    /// it) is held to [`INTROSPECTION_MAX_DEPTH`] instead of the data depth.
    pub(crate) fn check_document(
        &self,
        document: &ExecutableDocument,
        introspection: bool,
    ) -> Result<(), ServerError> {
        if aliases(document) > self.max_aliases {
            return Err(refusal("aliases", self.max_aliases));
        }
        let introspects =
            sum_over_fields(document, &|f| usize::from(is_introspection(&f.name.node)));
        if !introspection && introspects > 0 {
            return Err(request_error("Introspection is disabled.", code::FORBIDDEN));
        }
        let max_depth =
            if introspection_only(document) { INTROSPECTION_MAX_DEPTH } else { self.max_depth };
        if depth(document) > max_depth {
            return Err(refusal("depth", max_depth));
        }
        Ok(())
    }

    /// Gives async-graphql's complexity and recursion refusals our form, and every other
    /// codeless error (async-graphql's own parse, validation and variable errors) the code of a
    /// client mistake.
    pub(crate) fn recode(&self, errors: &mut [ServerError]) {
        for error in errors {
            if error.message == TOO_COMPLEX {
                *error = refusal("complexity", self.max_complexity);
            } else if error.message.starts_with(TOO_RECURSIVE) {
                *error = refusal("depth", self.max_depth);
            } else {
                let extensions = error.extensions.get_or_insert_with(Default::default);
                if extensions.get("code").is_none() {
                    extensions.set("code", code::BAD_USER_INPUT);
                }
            }
        }
    }
}

/// The error of a refused query.
pub(crate) fn refusal(limit: &'static str, max: usize) -> ServerError {
    let mut error =
        ServerError::new(format!("Query refused: over the {limit} limit of {max}."), None);
    let mut extensions = ErrorExtensionValues::default();
    extensions.set("code", code::QUERY_LIMIT);
    extensions.set("limit", limit);
    extensions.set("max", max as u64);
    error.extensions = Some(extensions);
    error
}

/// The error of a document that trusted-documents mode does not know.
pub(crate) fn not_persisted() -> ServerError {
    let mut error = refusal("persisted", 0);
    error.message = "Query refused: only persisted documents run here.".to_owned();
    if let Some(extensions) = error.extensions.as_mut() {
        extensions.unset("max");
    }
    error
}

/// The parser's own refusal of a document nested past its recursion bound.
pub(crate) fn parser_refusal(err: async_graphql::parser::Error, max_depth: usize) -> ServerError {
    match err {
        async_graphql::parser::Error::RecursionLimitExceeded => refusal("depth", max_depth),
        other => {
            let mut error = ServerError::from(other);
            let mut extensions = ErrorExtensionValues::default();
            extensions.set("code", code::BAD_USER_INPUT);
            error.extensions = Some(extensions);
            error
        }
    }
}

fn is_introspection(name: &str) -> bool {
    name == "__schema" || name == "__type"
}

/// Whether every operation selects only `__schema`, `__type` or `__typename` at its root.
fn introspection_only(document: &ExecutableDocument) -> bool {
    document.operations.iter().all(|(_, op)| {
        op.node.selection_set.node.items.iter().all(|item| match &item.node {
            Selection::Field(field) => field.node.name.node.starts_with("__"),
            _ => false,
        })
    })
}

/// Aliased fields in every operation and fragment of the document.
fn aliases(document: &ExecutableDocument) -> usize {
    sum_over_fields(document, &|field| usize::from(field.alias.is_some()))
}

/// The deepest field nesting of any operation, counting a leaf as one level and looking through
/// fragments (a fragment that spreads itself is a validation error; it is not followed twice).
fn depth(document: &ExecutableDocument) -> usize {
    let mut open = HashSet::new();
    document
        .operations
        .iter()
        .map(|(_, op)| set_depth(document, &op.node.selection_set.node, &mut open))
        .max()
        .unwrap_or(0)
}

fn set_depth<'d>(
    document: &'d ExecutableDocument,
    set: &'d SelectionSet,
    open: &mut HashSet<&'d str>,
) -> usize {
    let mut deepest = 0;
    for item in &set.items {
        let depth = match &item.node {
            Selection::Field(field) => {
                1 + set_depth(document, &field.node.selection_set.node, open)
            }
            Selection::InlineFragment(fragment) => {
                set_depth(document, &fragment.node.selection_set.node, open)
            }
            Selection::FragmentSpread(spread) => {
                let name = spread.node.fragment_name.node.as_str();
                match document.fragments.get(name) {
                    Some(fragment) if open.insert(name) => {
                        let depth = set_depth(document, &fragment.node.selection_set.node, open);
                        open.remove(name);
                        depth
                    }
                    _ => 0,
                }
            }
        };
        deepest = deepest.max(depth);
    }
    deepest
}

#[cfg(test)]
mod tests {
    use async_graphql::parser::parse_query;

    use super::*;

    fn depth_of(text: &str) -> usize {
        depth(&parse_query(text).unwrap())
    }

    #[test]
    fn depth_counts_fields_through_fragments() {
        assert_eq!(depth_of("{ a }"), 1);
        assert_eq!(depth_of("{ a { b { c } } d }"), 3);
        assert_eq!(depth_of("{ a { ...F } } fragment F on T { b { c } }"), 3);
        assert_eq!(depth_of("{ a { ... on T { b } } }"), 2);
        assert_eq!(depth_of("{ a { ...F } } fragment F on T { b { ...F } }"), 2, "no cycle");
    }

    #[test]
    fn introspection_documents_are_held_to_their_own_depth() {
        let limits = QueryLimits {
            max_document_bytes: 1 << 16,
            max_aliases: 30,
            max_depth: 3,
            max_complexity: 100,
        };
        let nested = |n: usize| {
            let mut inner = "name".to_owned();
            for _ in 0..n {
                inner = format!("ofType {{ {inner} }}");
            }
            format!("{{ __schema {{ types {{ {inner} }} }} }}")
        };
        let deep = parse_query(nested(INTROSPECTION_MAX_DEPTH - 3)).unwrap();
        assert!(limits.check_document(&deep, true).is_ok());
        let deeper = parse_query(nested(INTROSPECTION_MAX_DEPTH - 2)).unwrap();
        assert!(limits.check_document(&deeper, true).is_err());
        let data = parse_query("{ viewer { following { nodes { id } } } }").unwrap();
        assert!(limits.check_document(&data, true).is_err(), "data is held to max_depth");
        let off = limits
            .check_document(&parse_query("{ __type(name: \"User\") { name } }").unwrap(), false);
        assert_eq!(off.unwrap_err().message, "Introspection is disabled.");
        let typename = parse_query("{ __typename }").unwrap();
        assert!(limits.check_document(&typename, false).is_ok(), "__typename is not introspection");
    }
}

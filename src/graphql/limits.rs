//! Refusing abusive queries before any database or Redis work, with a stable error: each refusal
//! is `extensions.code = "QUERY_LIMIT"` and `extensions.limit` naming the limit (`size`,
//! `aliases`, `depth` or `complexity`). Errors that async-graphql itself raises about a bad
//! document or bad variables get `BAD_USER_INPUT`, so that every error a client sees has a code.
//!
//! None of this is an async-graphql extension: an extension wraps the resolution of every field
//! in more boxed futures, which cost the 50-user fan-out (1,500 fields) a tenth of its CPU. Size
//! and aliases are checked on the parsed document, depth and complexity by the schema's own
//! limits, whose errors [`recode`] turns into ours.

use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest,
};
use async_graphql::parser::types::{ExecutableDocument, Selection};
use async_graphql::{Request, ServerError, ServerResult, Variables};

use super::documents::sum_over_fields;

/// The limits of one schema.
#[derive(Debug, Clone, Copy)]
pub struct QueryLimits {
    /// Largest query document, in bytes.
    pub max_document_bytes: usize,
    /// Most aliased fields in one document (aliases multiply work without multiplying size).
    pub max_aliases: usize,
    /// Deepest field nesting.
    pub max_depth: usize,
    /// Highest cost; a connection costs its `first` times its children, `users` its id count.
    pub max_complexity: usize,
}

/// async-graphql's messages for its own depth and complexity limits (async-graphql 7).
const TOO_DEEP: &str = "Query is nested too deep.";
const TOO_COMPLEX: &str = "Query is too complex.";

impl QueryLimits {
    /// Refuses a document text over the size limit, before it is parsed.
    pub fn check_size(&self, text: &str) -> Result<(), ServerError> {
        let max = self.max_document_bytes;
        if text.len() > max {
            return Err(refusal("size", max));
        }
        Ok(())
    }

    /// Refuses a parsed document with too many aliases.
    pub fn check_aliases(&self, document: &ExecutableDocument) -> Result<(), ServerError> {
        if aliases(document) > self.max_aliases {
            return Err(refusal("aliases", self.max_aliases));
        }
        Ok(())
    }

    /// Gives async-graphql's depth and complexity refusals our form, and every other codeless
    /// error (async-graphql's own parse, validation and variable errors) the code of a client
    /// mistake.
    pub fn recode(&self, errors: &mut [ServerError]) {
        for error in errors {
            match error.message.as_str() {
                TOO_DEEP => *error = refusal("depth", self.max_depth),
                TOO_COMPLEX => *error = refusal("complexity", self.max_complexity),
                _ => {
                    let extensions = error.extensions.get_or_insert_with(Default::default);
                    if extensions.get("code").is_none() {
                        extensions.set("code", "BAD_USER_INPUT");
                    }
                }
            }
        }
    }
}

/// The size and alias checks for `/graphql/ws`, where async-graphql runs each message itself
/// and only an extension sees it (depth and complexity are the schema's own limits there too).
/// An extension wraps every field's resolution, so `POST /graphql` does without it.
pub struct WsChecks(pub QueryLimits);

impl ExtensionFactory for WsChecks {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(WsCheck(self.0))
    }
}

struct WsCheck(QueryLimits);

#[async_trait::async_trait]
impl Extension for WsCheck {
    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        self.0.check_size(&request.query)?;
        next.run(ctx, request).await
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        self.0.check_aliases(&document)?;
        Ok(document)
    }
}

/// The error of a refused query.
pub fn refusal(limit: &'static str, max: usize) -> ServerError {
    let mut error =
        ServerError::new(format!("Query refused: over the {limit} limit of {max}."), None);
    let mut extensions = async_graphql::ErrorExtensionValues::default();
    extensions.set("code", "QUERY_LIMIT");
    extensions.set("limit", limit);
    extensions.set("max", max as u64);
    error.extensions = Some(extensions);
    error
}

/// Whether every operation selects only `__schema`, `__type` or `__typename` at its root. Such
/// a query reads only the schema, whose size bounds it; GraphiQL's introspection query is deeper
/// than any sensible depth limit for data, so it is not held to the data limits.
pub fn introspection_only(document: &ExecutableDocument) -> bool {
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

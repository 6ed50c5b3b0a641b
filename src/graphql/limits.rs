//! Refusing abusive queries before any database or Redis work, with a stable error: each refusal
//! is `extensions.code = "QUERY_LIMIT"` and `extensions.limit` naming the limit (`size`,
//! `aliases`, `depth` or `complexity`). Errors that async-graphql itself raises about a bad
//! document or bad variables get `BAD_USER_INPUT`, so that every error a client sees has a code.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextPrepareRequest, NextRequest,
    NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, Selection, SelectionSet};
use async_graphql::{Request, Response, ServerError, ServerResult, ValidationResult, Variables};

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

impl ExtensionFactory for QueryLimits {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Checks { limits: *self, introspection_only: AtomicBool::new(false) })
    }
}

/// One request's checks.
struct Checks {
    limits: QueryLimits,
    /// Set when every root field is `__schema`, `__type` or `__typename`. Such a query reads
    /// only the schema, whose size bounds it; GraphiQL's introspection query is deeper than any
    /// sensible depth limit for data, so it is not held to the data limits.
    introspection_only: AtomicBool,
}

#[async_trait::async_trait]
impl Extension for Checks {
    /// Gives every codeless error (async-graphql's own parse, validation and variable errors)
    /// the code of a client mistake.
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let mut response = next.run(ctx).await;
        for error in &mut response.errors {
            let extensions = error.extensions.get_or_insert_with(Default::default);
            if extensions.get("code").is_none() {
                extensions.set("code", "BAD_USER_INPUT");
            }
        }
        response
    }

    async fn prepare_request(
        &self,
        ctx: &ExtensionContext<'_>,
        request: Request,
        next: NextPrepareRequest<'_>,
    ) -> ServerResult<Request> {
        let max = self.limits.max_document_bytes;
        if request.query.len() > max {
            return Err(refusal("size", max));
        }
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
        if aliases(&document) > self.limits.max_aliases {
            return Err(refusal("aliases", self.limits.max_aliases));
        }
        self.introspection_only.store(introspection_only(&document), Ordering::Relaxed);
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        if self.introspection_only.load(Ordering::Relaxed) {
            return Ok(result);
        }
        let QueryLimits { max_depth, max_complexity, .. } = self.limits;
        if result.depth > max_depth {
            return Err(vec![refusal("depth", max_depth)]);
        }
        if result.complexity > max_complexity {
            return Err(vec![refusal("complexity", max_complexity)]);
        }
        Ok(result)
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

/// Whether every operation selects only introspection fields at its root.
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
    let operations = document.operations.iter().map(|(_, op)| &op.node.selection_set.node);
    let fragments = document.fragments.values().map(|f| &f.node.selection_set.node);
    operations.chain(fragments).map(aliases_in).sum()
}

fn aliases_in(set: &SelectionSet) -> usize {
    set.items
        .iter()
        .map(|item| match &item.node {
            Selection::Field(field) => {
                usize::from(field.node.alias.is_some()) + aliases_in(&field.node.selection_set.node)
            }
            Selection::InlineFragment(fragment) => aliases_in(&fragment.node.selection_set.node),
            Selection::FragmentSpread(_) => 0,
        })
        .sum()
}

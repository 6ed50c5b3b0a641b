//! GraphQL operation metrics: each request is counted and timed under the operation's type and
//! root fields (`mutation followUser`, `query users,viewer`), named only once validation has
//! shown them to be fields of the schema, so that clients cannot invent label values.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use async_graphql::extensions::{
    Extension, ExtensionContext, ExtensionFactory, NextParseQuery, NextRequest, NextValidation,
};
use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use async_graphql::{Response, ServerError, ServerResult, ValidationResult, Variables};

/// Installs a fresh recorder per request.
pub struct OperationMetrics;

impl ExtensionFactory for OperationMetrics {
    fn create(&self) -> Arc<dyn Extension> {
        Arc::new(Recorder::default())
    }
}

#[derive(Default)]
struct Recorder {
    /// The operation's name from the parsed document, until validation accepts it.
    parsed: Mutex<Option<String>>,
    /// The name to record under, once validated.
    validated: Mutex<Option<String>>,
}

#[async_trait::async_trait]
impl Extension for Recorder {
    async fn request(&self, ctx: &ExtensionContext<'_>, next: NextRequest<'_>) -> Response {
        let started = Instant::now();
        let response = next.run(ctx).await;
        let operation = take(&self.validated).unwrap_or_else(|| "refused".to_owned());
        let outcome = if response.errors.is_empty() { "ok" } else { "error" };
        let labels = [("operation", operation.clone()), ("outcome", outcome.to_owned())];
        metrics::counter!("graphql_operations_total", &labels).increment(1);
        metrics::histogram!("graphql_operation_duration_seconds", "operation" => operation)
            .record(started.elapsed().as_secs_f64());
        response
    }

    async fn parse_query(
        &self,
        ctx: &ExtensionContext<'_>,
        query: &str,
        variables: &Variables,
        next: NextParseQuery<'_>,
    ) -> ServerResult<ExecutableDocument> {
        let document = next.run(ctx, query, variables).await?;
        *lock(&self.parsed) = Some(operation_name(&document));
        Ok(document)
    }

    async fn validation(
        &self,
        ctx: &ExtensionContext<'_>,
        next: NextValidation<'_>,
    ) -> Result<ValidationResult, Vec<ServerError>> {
        let result = next.run(ctx).await?;
        *lock(&self.validated) = take(&self.parsed);
        Ok(result)
    }
}

/// `<type> <root fields, sorted>` of a one-operation document.
fn operation_name(document: &ExecutableDocument) -> String {
    let mut operations = document.operations.iter();
    let (Some((_, operation)), None) = (operations.next(), operations.next()) else {
        return "several".to_owned();
    };
    let kind = match operation.node.ty {
        OperationType::Query => "query",
        OperationType::Mutation => "mutation",
        OperationType::Subscription => "subscription",
    };
    let mut fields: Vec<&str> = operation
        .node
        .selection_set
        .node
        .items
        .iter()
        .filter_map(|item| match &item.node {
            Selection::Field(field) => Some(field.node.name.node.as_str()),
            _ => None,
        })
        .collect();
    fields.sort_unstable();
    fields.dedup();
    format!("{kind} {}", fields.join(","))
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn take(slot: &Mutex<Option<String>>) -> Option<String> {
    lock(slot).take()
}

//! GraphQL operation metrics: each request is counted and timed under the operation's type and
//! root fields (`mutation followUser`, `query users,viewer`), named only once validation has
//! shown them to be fields of the schema, so that clients cannot invent label values.

use std::time::Instant;

use async_graphql::parser::types::{ExecutableDocument, OperationType, Selection};
use async_graphql::Response;

/// Records one executed request. `operation` is the document's [`operation_name`] (none if it
/// did not parse); it is used only if the request passed validation, that is if no error lacks
/// a path: parse, validation and limit errors have none, a resolver's error always has one.
pub(crate) fn record(operation: Option<String>, response: &Response, started: Instant) {
    let validated = response.errors.iter().all(|error| !error.path.is_empty());
    let operation = operation.filter(|_| validated).unwrap_or_else(|| "refused".to_owned());
    let outcome = if response.errors.is_empty() { "ok" } else { "error" };
    let labels = [("operation", operation.clone()), ("outcome", outcome.to_owned())];
    metrics::counter!("graphql_operations_total", &labels).increment(1);
    metrics::histogram!("graphql_operation_duration_seconds", "operation" => operation)
        .record(started.elapsed().as_secs_f64());
}

/// `<type> <root fields, sorted>` of a one-operation document.
pub(crate) fn operation_name(document: &ExecutableDocument) -> String {
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

//! The GraphQL API for frontend clients. Everything here but `routes.rs` is plain
//! async-graphql: resolvers translate between the schema and the service layer and hold no rule.

mod connection;
mod documents;
mod error;
mod input;
mod limits;
mod loaders;
mod mutation;
mod observe;
mod query;
pub mod routes;
mod scheduling;
mod user;
mod viewer;

use std::time::Duration;

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptySubscription, Request, Response, Schema};

use crate::domain::ids::UserId;
use crate::service::Service;
use loaders::GraphLoader;
use mutation::MutationRoot;
use query::QueryRoot;
use scheduling::PassTracker;

pub use documents::DocumentCache;
pub use limits::QueryLimits;
use viewer::Viewer;

/// The schema type served at `/graphql`.
pub type FollowSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// Builds the schema with its limits. It holds no connection: each request brings the service
/// with it, so the schema can be printed without a database.
pub fn build_schema(limits: QueryLimits, introspection: bool) -> FollowSchema {
    let builder = Schema::build(QueryRoot, MutationRoot, EmptySubscription)
        .extension(limits)
        .extension(observe::OperationMetrics);
    let builder =
        if introspection { builder } else { builder.disable_introspection().disable_suggestions() };
    builder.finish()
}

/// The SDL of the schema, as `followgraph schema` prints it and `schema.graphql` stores it.
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription).finish().sdl()
}

/// Executes one request with what it needs: the service, its viewer, and fresh DataLoaders
/// (nothing is cached from one request to the next) whose batches stay whole.
pub async fn execute(
    schema: &FollowSchema,
    request: Request,
    service: &Service,
    viewer: Option<UserId>,
) -> Response {
    let passes = PassTracker::default();
    let loader = DataLoader::new(GraphLoader::new(service.clone(), viewer), passes.spawner())
        .delay(Duration::ZERO);
    let request = request.data(service.clone()).data(Viewer(viewer)).data(loader);
    passes.run(schema.execute(request)).await
}

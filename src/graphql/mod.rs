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

use std::time::{Duration, Instant};

use async_graphql::dataloader::DataLoader;
use async_graphql::{EmptySubscription, Request, Response, Schema, ServerError};

use crate::domain::ids::UserId;
use crate::service::Service;
use documents::DocumentCache;
use loaders::GraphLoader;
use mutation::MutationRoot;
use query::QueryRoot;
use scheduling::PassTracker;

pub use limits::QueryLimits;
use viewer::Viewer;

/// The schema type served at `/graphql`.
pub type FollowSchema = Schema<QueryRoot, MutationRoot, EmptySubscription>;

/// The GraphQL API: the schema, held to the limits, and what every request shares. It holds no
/// connection: each request brings the service with it, so the schema can be printed without
/// a database. Cheap to clone.
#[derive(Clone)]
pub struct Graphql {
    /// For every query that reads data: depth and complexity limited.
    data: FollowSchema,
    /// For queries that only introspect the schema, which its size bounds.
    introspection: FollowSchema,
    /// For `/graphql/ws`: the data schema with the size and alias checks as an extension.
    ws: FollowSchema,
    limits: QueryLimits,
    documents: DocumentCache,
}

impl Graphql {
    pub fn new(limits: QueryLimits, introspection: bool) -> Self {
        let limited = || {
            builder(introspection)
                .limit_depth(limits.max_depth)
                .limit_complexity(limits.max_complexity)
        };
        Self {
            data: limited().finish(),
            introspection: builder(introspection).finish(),
            ws: limited().extension(limits::WsChecks(limits)).finish(),
            limits,
            documents: DocumentCache::default(),
        }
    }

    /// The schema for `/graphql/ws`.
    pub fn ws_schema(&self) -> &FollowSchema {
        &self.ws
    }

    /// Executes one request with what it needs: the service, its viewer, and fresh DataLoaders
    /// (nothing is cached from one request to the next) whose batches stay whole.
    pub async fn execute(
        &self,
        request: Request,
        service: &Service,
        viewer: Option<UserId>,
    ) -> Response {
        let started = Instant::now();
        let (schema, request, operation) = match self.admit(request) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                let response = Response::from_errors(vec![refusal]);
                observe::record(None, &response, started);
                return response;
            }
        };
        let passes = PassTracker::default();
        let loader = DataLoader::new(GraphLoader::new(service.clone(), viewer), passes.spawner())
            .delay(Duration::ZERO);
        let request = request.data(service.clone()).data(Viewer(viewer)).data(loader);
        let mut response = passes.run(schema.execute(request)).await;
        self.limits.recode(&mut response.errors);
        observe::record(operation, &response, started);
        response
    }

    /// Checks the request against the limits that need no schema, attaches its parsed document
    /// and picks the schema that runs it. Returns the operation's name for the metrics.
    fn admit(
        &self,
        mut request: Request,
    ) -> Result<(&FollowSchema, Request, Option<String>), ServerError> {
        self.limits.check_size(&request.query)?;
        let Some(document) = self.documents.parse(&request.query) else {
            return Ok((&self.data, request, None));
        };
        self.limits.check_aliases(&document)?;
        let schema =
            if limits::introspection_only(&document) { &self.introspection } else { &self.data };
        let operation = observe::operation_name(&document);
        request.set_parsed_query(document);
        Ok((schema, request, Some(operation)))
    }
}

fn builder(
    introspection: bool,
) -> async_graphql::SchemaBuilder<QueryRoot, MutationRoot, EmptySubscription> {
    let builder = Schema::build(QueryRoot, MutationRoot, EmptySubscription);
    if introspection {
        builder
    } else {
        builder.disable_introspection().disable_suggestions()
    }
}

/// The SDL of the schema, as `followgraph schema` prints it and `schema.graphql` stores it.
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot, EmptySubscription).finish().sdl()
}

//! The GraphQL API for frontend clients. Everything here but `http/` is plain async-graphql:
//! resolvers translate between the schema and the service layer and hold no rule. `http/` is
//! the axum glue: GraphQL over HTTP (POST and GET), over WebSocket, and GraphiQL.
//!
//! Every transport runs a request in two steps: [`Graphql::admit`] (persisted queries, size,
//! parse, aliases, depth, introspection: all before any database or Redis work for data) and
//! [`Graphql::run`] (execution, with a fresh DataLoader). Between them the transport checks that
//! the operation's kind is one it carries (no mutation over GET).

mod context;
mod documents;
mod error;
pub(crate) mod http;
mod input;
mod limits;
mod loaders;
mod mutation;
mod node;
mod observe;
mod paging;
mod persisted;
mod prefetch;
mod query;
mod request;
mod scheduling;
mod subscription;
mod user;
mod viewer;

use std::time::{Duration, Instant};

use async_graphql::dataloader::DataLoader;
use async_graphql::parser::types::{DocumentOperations, ExecutableDocument, OperationType};
use async_graphql::{Response, Schema, ServerError, Variables};
use futures_util::stream::{BoxStream, StreamExt};

use crate::domain::ids::UserId;
use crate::service::Service;
use documents::DocumentCache;
use loaders::GraphLoader;
use mutation::MutationRoot;
use query::QueryRoot;
use request::GraphqlRequest;
use scheduling::PassTracker;
use subscription::SubscriptionRoot;
use viewer::Viewer;

pub(crate) use limits::QueryLimits;
pub(crate) use persisted::{Manifest, PersistedQueries};

/// The schema type served at `/graphql`.
pub(crate) type FollowSchema = Schema<QueryRoot, MutationRoot, SubscriptionRoot>;

/// The GraphQL API: the schema, held to the limits, and what every request shares. It holds no
/// connection: each request brings the service with it, so the schema can be printed without
/// a database. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Graphql {
    /// Complexity-limited by async-graphql; depth is checked in [`Graphql::admit`], where
    /// introspection-only documents get their own bound.
    schema: FollowSchema,
    limits: QueryLimits,
    introspection: bool,
    persisted: PersistedQueries,
    documents: DocumentCache,
}

/// A request that passed every check made before execution, with its parsed document.
pub(crate) struct Admitted {
    request: async_graphql::Request,
    kind: Option<OperationType>,
    /// The operation's label in the metrics.
    label: String,
}

impl Admitted {
    /// Whether the request runs a query, a mutation or a subscription; `None` when the document
    /// does not say which operation runs (execution then reports it).
    pub(crate) fn kind(&self) -> Option<OperationType> {
        self.kind
    }
}

impl Graphql {
    pub(crate) fn new(
        limits: QueryLimits,
        introspection: bool,
        persisted: PersistedQueries,
    ) -> Self {
        let builder = Schema::build(QueryRoot, MutationRoot, SubscriptionRoot)
            .limit_complexity(limits.max_complexity);
        let builder = if introspection {
            builder
        } else {
            builder.disable_introspection().disable_suggestions()
        };
        let schema = builder.finish();
        Self { schema, limits, introspection, persisted, documents: DocumentCache::default() }
    }

    /// Applies the persisted-query rules and every limit that needs no execution, and parses the
    /// document (once per distinct text: parsed documents are kept).
    pub(crate) async fn admit(
        &self,
        request: GraphqlRequest,
        service: &Service,
    ) -> Result<Admitted, ServerError> {
        let text = self.persisted.document(&request, service).await?;
        self.limits.check_size(&text)?;
        let document = self
            .documents
            .parse(&text)
            .map_err(|err| limits::parser_refusal(err, self.limits.max_depth))?;
        self.limits.check_document(&document, self.introspection)?;
        let kind = operation_kind(&document, request.operation_name.as_deref());
        let label = observe::operation_name(&document);
        let variables = request.variables.map(serde_json::Value::Object).unwrap_or_default();
        let mut admitted =
            async_graphql::Request::new(text).variables(Variables::from_json(variables));
        admitted.operation_name = request.operation_name;
        admitted.set_parsed_query(document);
        Ok(Admitted { request: admitted, kind, label })
    }

    /// Executes an admitted request with what it needs: the service, its viewer, and a fresh
    /// DataLoader (nothing is cached from one request to the next) whose batches stay whole.
    pub(crate) async fn run(
        &self,
        admitted: Admitted,
        service: &Service,
        viewer: Option<UserId>,
    ) -> Response {
        let started = Instant::now();
        let passes = PassTracker::default();
        let loader = DataLoader::new(GraphLoader::new(service.clone(), viewer), passes.spawner())
            .delay(Duration::ZERO);
        let request = admitted.request.data(service.clone()).data(Viewer(viewer)).data(loader);
        let mut response = passes.run(self.schema.execute(request)).await;
        self.limits.recode(&mut response.errors);
        observe::record(Some(admitted.label), &response, started);
        response
    }

    /// Executes an admitted request as a stream of responses: one for a query or a mutation
    /// (as [`Graphql::run`]), one per event for a subscription. Each response of a
    /// subscription resolves with the same DataLoader, which caches nothing.
    pub(crate) fn run_stream(
        &self,
        admitted: Admitted,
        service: &Service,
        viewer: Option<UserId>,
    ) -> BoxStream<'static, Response> {
        if admitted.kind != Some(OperationType::Subscription) {
            let (graphql, service) = (self.clone(), service.clone());
            return futures_util::stream::once(async move {
                graphql.run(admitted, &service, viewer).await
            })
            .boxed();
        }
        let passes = PassTracker::default();
        let loader = DataLoader::new(GraphLoader::new(service.clone(), viewer), passes.spawner())
            .delay(Duration::ZERO);
        let request = admitted.request.data(service.clone()).data(Viewer(viewer)).data(loader);
        let limits = self.limits;
        let label = admitted.label;
        self.schema
            .execute_stream(request)
            .map(move |mut response| {
                limits.recode(&mut response.errors);
                observe::record(Some(label.clone()), &response, Instant::now());
                response
            })
            .boxed()
    }

    /// The response of a request refused before execution, counted in the metrics.
    pub(crate) fn refused(&self, error: ServerError) -> Response {
        let response = Response::from_errors(vec![error]);
        observe::record(None, &response, Instant::now());
        response
    }
}

/// The kind of the operation that `operation_name` (or the only operation) selects.
fn operation_kind(
    document: &ExecutableDocument,
    operation_name: Option<&str>,
) -> Option<OperationType> {
    match (&document.operations, operation_name) {
        (DocumentOperations::Single(op), None) => Some(op.node.ty),
        (DocumentOperations::Multiple(ops), Some(name)) => ops.get(name).map(|op| op.node.ty),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|op| op.node.ty)
        }
        _ => None,
    }
}

/// The SDL of the schema, as `followgraph schema` prints it and `schema.graphql` stores it.
pub fn sdl() -> String {
    Schema::build(QueryRoot, MutationRoot, SubscriptionRoot).finish().sdl()
}

/// Whether a response is that of a request that never ran: no data, and only errors that belong
/// to no field (parse, validation, variables, limits, credentials). A transport answers these
/// with a 4xx status where its media type says so.
pub(crate) fn never_ran(response: &Response) -> bool {
    response.data == async_graphql::Value::Null
        && !response.errors.is_empty()
        && response.errors.iter().all(|error| error.path.is_empty())
}

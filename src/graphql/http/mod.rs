//! The axum glue of the GraphQL API, the only part of `graphql/` that knows HTTP:
//! GraphQL over HTTP (`execute.rs`, in the media type `media.rs` negotiates), over WebSocket
//! (`socket.rs`, the graphql-transport-ws protocol), and GraphiQL (`graphiql.rs`).
//!
//! async-graphql-axum is not used: its request extractor and response fix one media type and
//! status, and its WebSocket handler closes with protocol codes other than graphql-ws's (1002
//! for a bad token or message, no 4408 on a silent client, no 4409 on a duplicate id).

mod execute;
mod graphiql;
mod media;
mod socket;

use axum::body::Bytes;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::get;
use axum::Router;

use super::error::rate_limited;
use super::Graphql;
use crate::auth::Authenticator;
use crate::ratelimit::RateLimit;
use crate::service::Service;

pub(crate) use graphiql::graphiql_page;
use media::Media;

/// What the GraphQL routes share.
#[derive(Clone)]
pub(crate) struct GraphqlState {
    pub(crate) graphql: Graphql,
    pub(crate) auth: Authenticator,
    pub(crate) service: Service,
    /// The per-client rate limit, which WebSocket operations are counted against one by one.
    pub(crate) rate_limit: Option<RateLimit>,
    /// Whether responses carry `extensions.roundTrips`.
    pub(crate) expose_round_trips: bool,
    /// Largest request body.
    pub(crate) max_body_bytes: usize,
    /// Subscriptions one WebSocket connection may hold at once.
    pub(crate) subscriptions_per_connection: usize,
    /// The GraphiQL page, with its default headers filled in.
    pub(crate) graphiql: Bytes,
}

/// The GraphQL form of a rate-limit refusal: 429 in the media type the client asked for.
pub(crate) fn too_many(headers: &HeaderMap, retry_after: u64) -> Response {
    Media::negotiate(headers).refuse(StatusCode::TOO_MANY_REQUESTS, rate_limited(retry_after))
}

/// `/graphql` (GET and POST), `/graphql/assets/{file}` and `/graphql/ws`.
pub(crate) fn router(state: GraphqlState) -> Router {
    Router::new()
        .route("/graphql", get(execute::get).post(execute::post))
        .route("/graphql/assets/{file}", get(graphiql::asset))
        .route("/graphql/ws", get(socket::upgrade))
        .with_state(state)
}

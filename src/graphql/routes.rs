//! The axum glue, the only file of `graphql/` that knows HTTP: execute on POST, GraphiQL on GET
//! (served with its own scripts, so it works without internet access), subscriptions over
//! WebSocket.

use async_graphql::{Pos, Response};
use async_graphql_axum::{GraphQLRequest, GraphQLResponse, GraphQLSubscription};
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;

use super::error::auth_error;
use super::{execute as run, FollowSchema};
use crate::auth::Authenticator;
use crate::service::Service;

/// What the GraphQL routes share.
#[derive(Clone)]
pub struct GraphqlState {
    pub schema: FollowSchema,
    pub auth: Authenticator,
    pub service: Service,
    /// Whether responses carry `extensions.roundTrips`.
    pub expose_round_trips: bool,
}

/// `/graphql`, `/graphql/assets/{file}` and `/graphql/ws`.
pub fn router(state: GraphqlState) -> Router {
    let subscriptions = GraphQLSubscription::new(state.schema.clone());
    Router::new()
        .route("/graphql", get(graphiql).post(execute))
        .route("/graphql/assets/{file}", get(asset))
        .route_service("/graphql/ws", subscriptions)
        .with_state(state)
}

/// Resolves the viewer first: a present but invalid token fails the whole request with
/// UNAUTHENTICATED before any resolver runs, so it can never act as anonymous.
async fn execute(
    State(state): State<GraphqlState>,
    headers: HeaderMap,
    request: GraphQLRequest,
) -> GraphQLResponse {
    let viewer = match state.auth.viewer(&headers).await {
        Ok(viewer) => viewer,
        Err(err) => {
            let error = auth_error(&err).into_server_error(Pos::default());
            return Response::from_errors(vec![error]).into();
        }
    };
    let request = request.into_inner();
    if !state.expose_round_trips {
        return run(&state.schema, request, &state.service, viewer).await.into();
    }
    let (service, trips) = state.service.metered();
    let response = run(&state.schema, request, &service, viewer).await;
    let counted = async_graphql::value!({ "database": trips.database(), "redis": trips.redis() });
    response.extension("roundTrips", counted).into()
}

async fn graphiql() -> Html<&'static str> {
    Html(include_str!("../../assets/graphiql/index.html"))
}

/// The vendored GraphiQL files; versioned by the binary, so they may be cached for a day.
async fn asset(Path(file): Path<String>) -> impl IntoResponse {
    let (body, content_type): (&'static [u8], &str) = match file.as_str() {
        "graphiql.min.js" => (include_bytes!("../../assets/graphiql/graphiql.min.js"), JS),
        "graphiql.min.css" => (include_bytes!("../../assets/graphiql/graphiql.min.css"), CSS),
        "react.production.min.js" => {
            (include_bytes!("../../assets/graphiql/react.production.min.js"), JS)
        }
        "react-dom.production.min.js" => {
            (include_bytes!("../../assets/graphiql/react-dom.production.min.js"), JS)
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let headers =
        [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=86400")];
    (headers, body).into_response()
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

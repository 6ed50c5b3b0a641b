//! The axum glue, the only file of `graphql/` that knows HTTP: execute on POST, GraphiQL on GET
//! (served with its own scripts, so it works without internet access), subscriptions over
//! WebSocket.

use async_graphql::{Response, ServerError};
use async_graphql_axum::{GraphQLResponse, GraphQLSubscription};
use axum::body::Body;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{Html, IntoResponse};
use axum::routing::get;
use axum::Router;

use super::error::{auth_error, bad_input};
use super::limits::refusal;
use super::Graphql;
use crate::auth::Authenticator;
use crate::http::is_json;
use crate::service::Service;

/// What the GraphQL routes share.
#[derive(Clone)]
pub struct GraphqlState {
    pub graphql: Graphql,
    pub auth: Authenticator,
    pub service: Service,
    /// Whether responses carry `extensions.roundTrips`.
    pub expose_round_trips: bool,
    /// Largest request body.
    pub max_body_bytes: usize,
    /// The GraphiQL page, with its default headers filled in.
    pub graphiql: Bytes,
}

/// `/graphql`, `/graphql/assets/{file}` and `/graphql/ws`.
pub fn router(state: GraphqlState) -> Router {
    let subscriptions = GraphQLSubscription::new(state.graphql.ws_schema().clone());
    Router::new()
        .route("/graphql", get(graphiql).post(execute))
        .route("/graphql/assets/{file}", get(asset))
        .route_service("/graphql/ws", subscriptions)
        .with_state(state)
}

/// Reads the request, then resolves the viewer: a present but invalid token fails the whole
/// request with UNAUTHENTICATED before any resolver runs, so it can never act as anonymous.
async fn execute(
    State(state): State<GraphqlState>,
    headers: HeaderMap,
    body: Body,
) -> axum::response::Response {
    let request = match read_request(&headers, body, state.max_body_bytes).await {
        Ok(request) => request,
        Err((status, error)) => return refuse(status, error),
    };
    let viewer = match state.auth.viewer(&headers).await {
        Ok(viewer) => viewer,
        Err(err) => return refuse(StatusCode::OK, without_location(auth_error(&err))),
    };
    let (service, trips) = state.service.metered();
    let mut response = state.graphql.execute(request, &service, viewer).await;
    metrics::histogram!("graphql_request_round_trips", "to" => "database")
        .record(trips.database() as f64);
    metrics::histogram!("graphql_request_round_trips", "to" => "redis")
        .record(trips.redis() as f64);
    if state.expose_round_trips {
        let counted =
            async_graphql::value!({ "database": trips.database(), "redis": trips.redis() });
        response = response.extension("roundTrips", counted);
    }
    GraphQLResponse::from(response).into_response()
}

/// One GraphQL request from a JSON body of at most `limit` bytes. Batches (a JSON array),
/// multipart uploads and other media types are refused: no feature needs them.
async fn read_request(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<async_graphql::Request, (StatusCode, ServerError)> {
    let bad = |message: &str| without_location(bad_input(message.to_owned()));
    if !is_json(headers) {
        let error = bad("POST /graphql takes a JSON body (Content-Type: application/json).");
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, error));
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, refusal("size", limit)))?;
    serde_json::from_slice(&bytes).map_err(|_| {
        let error = bad(
            "The body is not one GraphQL request {\"query\", \"variables\", \"operationName\"}.",
        );
        (StatusCode::BAD_REQUEST, error)
    })
}

/// A request-level error: it belongs to no place in the document, so it has no `locations`.
fn without_location(error: async_graphql::Error) -> ServerError {
    let mut server_error = ServerError::new(error.message, None);
    server_error.extensions = error.extensions;
    server_error
}

fn refuse(status: StatusCode, error: ServerError) -> axum::response::Response {
    (status, GraphQLResponse::from(Response::from_errors(vec![error]))).into_response()
}

/// The GraphiQL page; `token` (development mode) is put in its headers editor.
pub fn graphiql_page(token: Option<&str>) -> Bytes {
    let headers =
        token.map_or_else(String::new, |t| format!(r#"{{"Authorization": "Bearer {t}"}}"#));
    let page = include_str!("../../assets/graphiql/index.html");
    Bytes::from(page.replace("FOLLOWGRAPH_DEFAULT_HEADERS", &headers))
}

async fn graphiql(State(state): State<GraphqlState>) -> Html<Bytes> {
    Html(state.graphiql.clone())
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

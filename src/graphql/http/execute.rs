//! `POST /graphql` and `GET /graphql`: read the request, resolve the viewer, admit, check the
//! operation's kind against the method, run, and answer in the negotiated media type.

use async_graphql::parser::types::OperationType;
use async_graphql::Response;
use axum::body::Body;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue, Method, StatusCode};
use axum::response::{Html, IntoResponse};
use serde::Deserialize;

use super::media::Media;
use super::GraphqlState;
use crate::content_type::is_json;
use crate::graphql::error::{auth_error, bad_request};
use crate::graphql::limits::refusal;
use crate::graphql::request::GraphqlRequest;

/// The parameters of a GraphQL GET.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct GetParams {
    query: Option<String>,
    operation_name: Option<String>,
    variables: Option<String>,
    extensions: Option<String>,
}

/// Executes a request sent as a JSON body.
pub(crate) async fn post(
    State(state): State<GraphqlState>,
    headers: HeaderMap,
    body: Body,
) -> axum::response::Response {
    let media = Media::negotiate(&headers);
    match read_body(&headers, body, state.max_body_bytes).await {
        Ok(request) => answer(&state, media, &headers, request, Method::POST).await,
        Err((status, error)) => media.refuse(status, error),
    }
}

/// Executes a query sent as URL parameters; a browser asking for a page without a query gets
/// GraphiQL.
pub(crate) async fn get(
    State(state): State<GraphqlState>,
    headers: HeaderMap,
    Query(params): Query<GetParams>,
) -> axum::response::Response {
    let media = Media::negotiate(&headers);
    if params.query.is_none() && params.extensions.is_none() && accepts_html(&headers) {
        return Html(state.graphiql.clone()).into_response();
    }
    let request = GraphqlRequest::from_params(
        params.query,
        params.operation_name,
        params.variables.as_deref(),
        params.extensions.as_deref(),
    );
    match request {
        Ok(request) => answer(&state, media, &headers, request, Method::GET).await,
        Err(error) => media.refuse(StatusCode::BAD_REQUEST, error),
    }
}

/// The common path of both methods. A present but invalid token fails the whole request before
/// any resolver runs, so it can never act as anonymous.
async fn answer(
    state: &GraphqlState,
    media: Media,
    headers: &HeaderMap,
    request: GraphqlRequest,
    method: Method,
) -> axum::response::Response {
    if let Err(error) = request.check_readable() {
        return media.refuse(StatusCode::BAD_REQUEST, error);
    }
    let viewer = match state.auth.viewer(headers).await {
        Ok(viewer) => viewer,
        Err(err) => return media.respond(state.graphql.refused(auth_error(&err))),
    };
    let (service, trips) = state.service.metered();
    let admitted = match state.graphql.admit(request, &service).await {
        Ok(admitted) => admitted,
        Err(error) => {
            return media.respond(with_trips(state, state.graphql.refused(error), &trips))
        }
    };
    match (method, admitted.kind()) {
        (Method::GET, Some(OperationType::Mutation | OperationType::Subscription)) => {
            let error = bad_request("Only queries run over GET; send mutations with POST.");
            let mut response = media.refuse(StatusCode::METHOD_NOT_ALLOWED, error);
            response.headers_mut().insert(header::ALLOW, HeaderValue::from_static("POST"));
            return response;
        }
        (_, Some(OperationType::Subscription)) => {
            let error = bad_request("Subscriptions run over the WebSocket at /graphql/ws.");
            return media.refuse(StatusCode::BAD_REQUEST, error);
        }
        _ => {}
    }
    let response = state.graphql.run(admitted, &service, viewer).await;
    metrics::histogram!("graphql_request_round_trips", "to" => "database")
        .record(trips.database() as f64);
    metrics::histogram!("graphql_request_round_trips", "to" => "redis")
        .record(trips.redis() as f64);
    media.respond(with_trips(state, response, &trips))
}

/// Adds `extensions.roundTrips` when the service is configured to tell them.
fn with_trips(
    state: &GraphqlState,
    response: Response,
    trips: &crate::service::RoundTrips,
) -> Response {
    if !state.expose_round_trips {
        return response;
    }
    let counted = async_graphql::value!({ "database": trips.database(), "redis": trips.redis() });
    response.extension("roundTrips", counted)
}

/// One GraphQL request from a JSON body of at most `limit` bytes. Batches (a JSON array),
/// multipart uploads and other media types are refused: no feature needs them.
async fn read_body(
    headers: &HeaderMap,
    body: Body,
    limit: usize,
) -> Result<GraphqlRequest, (StatusCode, async_graphql::ServerError)> {
    if !is_json(headers) {
        let error =
            bad_request("POST /graphql takes a JSON body (Content-Type: application/json).");
        return Err((StatusCode::UNSUPPORTED_MEDIA_TYPE, error));
    }
    let bytes = axum::body::to_bytes(body, limit)
        .await
        .map_err(|_| (StatusCode::PAYLOAD_TOO_LARGE, refusal("size", limit)))?;
    serde_json::from_slice(&bytes).map_err(|_| {
        let error = bad_request(
            "The body is not one GraphQL request {\"query\", \"variables\", \"operationName\", \"extensions\"}.",
        );
        (StatusCode::BAD_REQUEST, error)
    })
}

/// Whether a browser is asking: `Accept` names `text/html`.
fn accepts_html(headers: &HeaderMap) -> bool {
    headers
        .get_all(header::ACCEPT)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .any(|v| v.split(',').any(|range| range.trim().starts_with("text/html")))
}

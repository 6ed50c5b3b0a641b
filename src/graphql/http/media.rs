//! GraphQL over HTTP's media types: which one a client asked for, and the status and body of a
//! response in it.
//!
//! `application/graphql-response+json` is answered when the `Accept` header names it (or when
//! there is no `Accept`), `application/json` otherwise. Under `application/graphql-response+json`
//! a request that never ran answers 4xx (or 5xx) by its error's code; under `application/json` it
//! answers 200, as servers did before the media type existed. Either way such a response has no
//! `data` entry, as the GraphQL spec says of request errors.

use async_graphql::{Response, ServerError};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::IntoResponse;
use serde::Serialize;

use super::super::error::{code, code_of};
use super::super::never_ran;

/// The two media types a GraphQL response is sent in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Media {
    GraphqlResponse,
    Json,
}

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";
const JSON: &str = "application/json";

impl Media {
    /// The media type `headers` ask for. A wildcard (`*/*`, `application/*`) counts for
    /// `application/json` only, the type every client reads; an `Accept` that names neither type
    /// gets `application/json` rather than 406, so that no legacy client is turned away.
    pub(crate) fn negotiate(headers: &HeaderMap) -> Self {
        let mut accepts = headers.get_all(header::ACCEPT).iter().peekable();
        if accepts.peek().is_none() {
            return Media::GraphqlResponse;
        }
        let (mut graphql, mut json) = (0.0_f32, 0.0_f32);
        for range in accepts.filter_map(|v| v.to_str().ok()).flat_map(|v| v.split(',')) {
            let mut parts = range.split(';');
            let mime = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let quality = parts
                .filter_map(|p| p.trim().strip_prefix("q="))
                .find_map(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            match mime.as_str() {
                GRAPHQL_RESPONSE => graphql = graphql.max(quality),
                JSON | "*/*" | "application/*" => json = json.max(quality),
                _ => {}
            }
        }
        if graphql > 0.0 && graphql >= json {
            Media::GraphqlResponse
        } else {
            Media::Json
        }
    }

    fn content_type(self) -> HeaderValue {
        HeaderValue::from_static(match self {
            Media::GraphqlResponse => "application/graphql-response+json; charset=utf-8",
            Media::Json => "application/json; charset=utf-8",
        })
    }

    /// A GraphQL response, with the status its media type gives it.
    pub(crate) fn respond(self, response: Response) -> axum::response::Response {
        if !never_ran(&response) {
            return self.body(StatusCode::OK, &response);
        }
        let status = match self {
            Media::Json => StatusCode::OK,
            Media::GraphqlResponse => status_of(&response.errors[0]),
        };
        self.body(status, &RequestErrors::from(&response))
    }

    /// One request error with a status fixed by the transport (413, 415, 405, 429, a body that
    /// is not a GraphQL request).
    pub(crate) fn refuse(self, status: StatusCode, error: ServerError) -> axum::response::Response {
        let response = Response::from_errors(vec![error]);
        self.body(status, &RequestErrors::from(&response))
    }

    fn body(self, status: StatusCode, body: &impl Serialize) -> axum::response::Response {
        match serde_json::to_vec(body) {
            Ok(bytes) => {
                let mut response = (status, bytes).into_response();
                response.headers_mut().insert(header::CONTENT_TYPE, self.content_type());
                response.headers_mut().insert(header::VARY, HeaderValue::from_static("accept"));
                response
            }
            Err(err) => {
                tracing::error!(error = %err, "cannot serialize a GraphQL response");
                StatusCode::INTERNAL_SERVER_ERROR.into_response()
            }
        }
    }
}

/// A response without `data`: only errors, and extensions (round trips) if any.
#[derive(Serialize)]
struct RequestErrors<'r> {
    errors: &'r [ServerError],
    #[serde(skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    extensions: &'r std::collections::BTreeMap<String, async_graphql::Value>,
}

impl<'r> From<&'r Response> for RequestErrors<'r> {
    fn from(response: &'r Response) -> Self {
        Self { errors: &response.errors, extensions: &response.extensions }
    }
}

/// The status of a request that never ran, by its (first) error's code.
fn status_of(error: &ServerError) -> StatusCode {
    match code_of(error) {
        Some(code::UNAUTHENTICATED) => StatusCode::UNAUTHORIZED,
        Some(code::FORBIDDEN) => StatusCode::FORBIDDEN,
        Some(code::RATE_LIMITED) => StatusCode::TOO_MANY_REQUESTS,
        Some(code::SERVICE_UNAVAILABLE) => StatusCode::SERVICE_UNAVAILABLE,
        Some(code::INTERNAL) => StatusCode::INTERNAL_SERVER_ERROR,
        // Apollo's link reads these from a 200 (Apollo Server answers them so): they are a step
        // of the protocol, not a failure.
        Some(code::PERSISTED_QUERY_NOT_FOUND | code::PERSISTED_QUERY_NOT_SUPPORTED) => {
            StatusCode::OK
        }
        _ => StatusCode::BAD_REQUEST,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn accept(value: &str) -> Media {
        let mut headers = HeaderMap::new();
        headers.insert(header::ACCEPT, HeaderValue::from_str(value).unwrap());
        Media::negotiate(&headers)
    }

    #[test]
    fn the_accept_header_picks_the_media_type() {
        assert_eq!(Media::negotiate(&HeaderMap::new()), Media::GraphqlResponse);
        assert_eq!(accept("application/graphql-response+json"), Media::GraphqlResponse);
        assert_eq!(accept("application/json"), Media::Json);
        assert_eq!(accept("*/*"), Media::Json);
        assert_eq!(
            accept("application/graphql-response+json,application/json;q=0.9"),
            Media::GraphqlResponse,
            "Apollo Client's header"
        );
        assert_eq!(
            accept("application/graphql-response+json, application/graphql+json, application/json, text/event-stream, multipart/mixed"),
            Media::GraphqlResponse,
            "urql's header"
        );
        assert_eq!(
            accept("application/graphql-response+json;q=0.5, application/json"),
            Media::Json
        );
        assert_eq!(accept("text/html"), Media::Json);
    }
}

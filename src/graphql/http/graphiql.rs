//! GraphiQL, served with its own scripts and styles so that it works without internet access
//! (async-graphql's page loads them from a CDN and shows a blank page offline).

use axum::body::Bytes;
use axum::extract::Path;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;

/// The GraphiQL page; `token` (development mode) is put in its headers editor.
pub(crate) fn graphiql_page(token: Option<&str>) -> Bytes {
    let headers =
        token.map_or_else(String::new, |t| format!(r#"{{"Authorization": "Bearer {t}"}}"#));
    let page = include_str!("../../../assets/graphiql/index.html");
    Bytes::from(page.replace("FOLLOWGRAPH_DEFAULT_HEADERS", &headers))
}

/// The vendored GraphiQL files; versioned by the binary, so they may be cached for a day.
pub(crate) async fn asset(Path(file): Path<String>) -> impl IntoResponse {
    let (body, content_type): (&'static [u8], &str) = match file.as_str() {
        "graphiql.min.js" => (include_bytes!("../../../assets/graphiql/graphiql.min.js"), JS),
        "graphiql.min.css" => (include_bytes!("../../../assets/graphiql/graphiql.min.css"), CSS),
        "react.production.min.js" => {
            (include_bytes!("../../../assets/graphiql/react.production.min.js"), JS)
        }
        "react-dom.production.min.js" => {
            (include_bytes!("../../../assets/graphiql/react-dom.production.min.js"), JS)
        }
        _ => return StatusCode::NOT_FOUND.into_response(),
    };
    let headers =
        [(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=86400")];
    (headers, body).into_response()
}

const JS: &str = "text/javascript; charset=utf-8";
const CSS: &str = "text/css; charset=utf-8";

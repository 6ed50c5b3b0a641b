//! What operators see: request ids, Prometheus metrics, CORS for configured origins only, and
//! compressed responses.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, TestApp};

#[tokio::test]
async fn request_ids_are_echoed_or_made() {
    let app = TestApp::on(Backend::Sqlite).spawn().await.unwrap();
    let given = app
        .client
        .get(app.url("/healthz"))
        .header("x-request-id", "trace-me-42")
        .send()
        .await
        .unwrap();
    assert_eq!(given.headers()["x-request-id"], "trace-me-42");
    let made = app.client.get(app.url("/healthz")).send().await.unwrap();
    let id = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(id.len(), 36, "a UUID: {id}");
    app.teardown().await;
}

#[tokio::test]
async fn metrics_count_routes_operations_round_trips_and_cache_lookups() {
    let Some(app) = TestApp::on(Backend::Sqlite).cached().spawn().await else { return };
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    app.rest_follow(&a, json!(b.id)).await;
    app.gql_act(&a, "unfollowUser", json!(b.id)).await;
    app.graphql(Some(&a), "{ following { totalCount } }", json!({})).await;
    let response = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let text = response.text().await.unwrap();
    for expected in [
        r#"http_requests_total{route="/app/v1_0/user/followings",method="POST",status="201"}"#,
        r#"http_request_duration_seconds_bucket{route="/graphql",method="POST",le="0.025"}"#,
        r#"graphql_operations_total{operation="mutation unfollowUser",outcome="ok"}"#,
        r#"graphql_operations_total{operation="query following",outcome="ok"}"#,
        "db_round_trips_total ",
        r#"graphql_request_round_trips_bucket{to="database",le="8"}"#,
        "redis_round_trips_total ",
        r#"cache_lookups_total{kind="counts",result="miss"}"#,
        r#"db_pool_connections{state="idle"}"#,
        r#"redis_pool_connections{state="in_use"}"#,
        "cache_users_awaiting_repair ",
    ] {
        assert!(text.contains(expected), "missing {expected} in:\n{text}");
    }
    app.teardown().await;
}

#[tokio::test]
async fn cors_answers_only_configured_origins() {
    let origin = "https://news.example";
    let app = TestApp::on(Backend::Sqlite)
        .tune(|s| s.cors_origins = vec![origin.to_owned()])
        .spawn()
        .await
        .unwrap();
    let preflight = |app: &TestApp, origin: &str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/graphql"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "POST")
            .header("Access-Control-Request-Headers", "authorization,content-type")
            .send()
    };
    let allowed = preflight(&app, origin).await.unwrap();
    assert_eq!(allowed.headers()["access-control-allow-origin"], origin);
    let other = preflight(&app, "https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    app.teardown().await;

    let default = TestApp::on(Backend::Sqlite).spawn().await.unwrap();
    let refused = preflight(&default, origin).await.unwrap();
    assert!(refused.headers().get("access-control-allow-origin").is_none(), "no origin by default");
    default.teardown().await;
}

#[tokio::test]
async fn responses_are_compressed_when_asked() {
    let app = TestApp::on(Backend::Sqlite).spawn().await.unwrap();
    let script = app
        .client
        .get(app.url("/graphql/assets/graphiql.min.js"))
        .header("Accept-Encoding", "gzip")
        .send()
        .await
        .unwrap();
    assert_eq!(script.headers()["content-encoding"], "gzip");
    let compressed = script.bytes().await.unwrap().len();
    assert!(compressed < 500_000, "978 kB of script compress well: {compressed}");
    app.teardown().await;
}

//! Liveness and readiness.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{read, TestApp};

backend_suite!(health_and_readiness_answer);

async fn health_and_readiness_answer(app: &TestApp) {
    let (status, body) = read(app.client.get(app.url("/healthz")).send().await.unwrap()).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "status": "ok" })));
    let (status, body) = read(app.client.get(app.url("/readyz")).send().await.unwrap()).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["status"], json!("ready"));
    assert_eq!(body["database"]["state"], json!("ok"));
}

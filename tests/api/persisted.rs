//! SPEC §9, persisted queries: Apollo's APQ over POST and GET (shared by instances through Redis,
//! in process without it), and trusted documents with `PERSISTED_QUERIES=only`.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use followgraph::cli::PersistedMode;

use crate::helpers::{error_code, Setup, TestApp};

fn sha256(text: &str) -> String {
    format!("{:x}", Sha256::digest(text.as_bytes()))
}

fn persisted(hash: &str) -> Value {
    json!({ "persistedQuery": { "version": 1, "sha256Hash": hash } })
}

async fn post(app: &TestApp, body: Value) -> (StatusCode, Value) {
    let request =
        app.client.post(app.url("/graphql")).header("accept", "application/graphql-response+json");
    crate::helpers::read(request.json(&body).send().await.unwrap()).await
}

async fn get(app: &TestApp, hash: &str, variables: &Value) -> (StatusCode, Value) {
    let extensions = persisted(hash).to_string();
    let variables = variables.to_string();
    let request = app
        .client
        .get(app.url("/graphql"))
        .query(&[("extensions", extensions.as_str()), ("variables", variables.as_str())]);
    crate::helpers::read(request.send().await.unwrap()).await
}

backend_suite!(an_unknown_hash_asks_for_the_document_which_then_runs_by_hash);
setup_suite!([sqlite_redis, postgres_redis, mysql_redis] instances_on_one_redis_share_persisted_documents);
backend_setups!(
    with_persisted_queries_off_a_hash_is_not_supported,
    trusted_documents_mode_runs_only_the_manifest,
);

async fn an_unknown_hash_asks_for_the_document_which_then_runs_by_hash(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    // Unique per test run, so that the shared Redis cannot know it yet.
    let query = format!("query Name($id: ID!) {{ user(id: $id) {{ name }} }} # {}", a.id);
    let hash = sha256(&query);
    let variables = json!({ "id": a.id.to_string() });
    let (status, body) =
        post(app, json!({ "extensions": persisted(&hash), "variables": variables })).await;
    assert_eq!(status, StatusCode::OK, "Apollo's link reads this from a 200: {body}");
    assert_eq!(error_code(&body), Some("PERSISTED_QUERY_NOT_FOUND"), "{body}");
    assert_eq!(body["errors"][0]["message"], json!("PersistedQueryNotFound"));
    let (status, _) = get(app, &hash, &variables).await;
    assert_eq!(status, StatusCode::OK, "over GET too");

    let wrong = json!({ "query": query, "extensions": persisted(&sha256("{ other }")), "variables": variables });
    let (status, body) = post(app, wrong).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, Some("BAD_USER_INPUT")),
        "{body}"
    );

    let register =
        json!({ "query": query, "extensions": persisted(&hash), "variables": variables });
    let (status, body) = post(app, register).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["data"]["user"]["name"], json!(format!("user {}", a.id)));
    let (_, by_post) =
        post(app, json!({ "extensions": persisted(&hash), "variables": variables })).await;
    assert_eq!(by_post["data"], body["data"], "{by_post}");
    let (_, by_get) = get(app, &hash.to_uppercase(), &variables).await;
    assert_eq!(by_get["data"], body["data"], "hashes are hex, either case: {by_get}");
    if app.redis.is_some() {
        let stored: Option<String> =
            bb8_redis::redis::AsyncCommands::get(&mut app.redis(), format!("fg:apq:{hash}"))
                .await
                .unwrap();
        assert_eq!(stored.as_deref(), Some(query.as_str()), "shared through Redis");
    }
}

/// Two instances on one Redis: a document given to one runs by hash on the other.
async fn instances_on_one_redis_share_persisted_documents(setup: Setup) {
    let Some(first) = setup.app().spawn().await else { return };
    let shared = first.redis_url.clone().expect("a cached set-up");
    let second = TestApp::on(setup.backend).redis_url(shared).spawn().await.unwrap();
    let query = format!("{{ __typename }} # {}", rand::random::<u64>());
    let hash = sha256(&query);
    let (_, body) = post(&first, json!({ "query": query, "extensions": persisted(&hash) })).await;
    assert_eq!(body["data"]["__typename"], json!("Query"), "{body}");
    let (_, body) = post(&second, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(body["data"]["__typename"], json!("Query"), "{body}");
    let alone = TestApp::on(setup.backend).spawn().await.unwrap();
    let (_, body) = post(&alone, json!({ "extensions": persisted(&hash) })).await;
    assert_eq!(error_code(&body), Some("PERSISTED_QUERY_NOT_FOUND"), "no Redis, no sharing");
    for app in [first, second, alone] {
        app.teardown().await;
    }
}

async fn with_persisted_queries_off_a_hash_is_not_supported(setup: Setup) {
    let tuned = setup.app().tune(|s| s.persisted_queries = PersistedMode::Off);
    let Some(app) = tuned.spawn().await else { return };
    let (status, body) =
        post(&app, json!({ "extensions": persisted(&sha256("{ __typename }")) })).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(error_code(&body), Some("PERSISTED_QUERY_NOT_SUPPORTED"));
    assert_eq!(body["errors"][0]["message"], json!("PersistedQueryNotSupported"));
    let (status, body) = post(&app, json!({ "query": "{ __typename }" })).await;
    assert_eq!((status, &body["data"]["__typename"]), (StatusCode::OK, &json!("Query")));
    app.teardown().await;
}

/// `PERSISTED_QUERIES=only`: the manifest's documents run, by hash or by text; nothing else.
async fn trusted_documents_mode_runs_only_the_manifest(setup: Setup) {
    let dir = tempfile::tempdir().unwrap();
    let known = "query Known { __typename }";
    let manifest = dir.path().join("persisted-documents.json");
    std::fs::write(&manifest, json!({ sha256(known): known }).to_string()).unwrap();
    let file = manifest.clone();
    let tuned = setup.app().tune(move |s| {
        s.persisted_queries = PersistedMode::Only;
        s.persisted_queries_file = Some(file);
    });
    let Some(app) = tuned.spawn().await else { return };
    let (status, body) = post(&app, json!({ "extensions": persisted(&sha256(known)) })).await;
    assert_eq!((status, &body["data"]["__typename"]), (StatusCode::OK, &json!("Query")), "{body}");
    let (_, body) = post(&app, json!({ "query": known })).await;
    assert_eq!(body["data"]["__typename"], json!("Query"), "the text of a known document: {body}");
    for refused in [
        json!({ "query": "{ __typename }" }),
        json!({ "extensions": persisted(&sha256("{ __typename }")) }),
        json!({ "query": "{ __typename }", "extensions": persisted(&sha256("{ __typename }")) }),
    ] {
        let (status, body) = post(&app, refused.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{refused}: {body}");
        assert_eq!(error_code(&body), Some("QUERY_LIMIT"), "{body}");
        assert_eq!(body["errors"][0]["extensions"]["limit"], json!("persisted"));
    }
    app.teardown().await;

    std::fs::write(&manifest, json!({ sha256("{ a }"): "{ b }" }).to_string()).unwrap();
    let mut settings = crate::helpers::settings_for("sqlite::memory:");
    settings.persisted_queries = PersistedMode::Only;
    settings.persisted_queries_file = Some(manifest.clone());
    let error = followgraph::config::Config::from_settings(&settings).err().expect("refused");
    assert!(error.to_string().contains("not the SHA-256"), "{error}");
}

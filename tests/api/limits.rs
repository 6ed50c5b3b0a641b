//! SPEC §8: abusive queries are refused with QUERY_LIMIT before any database or Redis work.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{Actor, Backend, Setup, TestApp};

fn nested_following(levels: usize) -> String {
    let mut query = "id".to_owned();
    for _ in 0..levels {
        query = format!("following(first: 1) {{ nodes {{ {query} }} }}");
    }
    format!("{{ viewer {{ {query} }} }}")
}

fn assert_refused(body: &Value, limit: &str) {
    let error = &body["errors"][0];
    assert_eq!(error["extensions"]["code"], json!("QUERY_LIMIT"), "{body}");
    assert_eq!(error["extensions"]["limit"], json!(limit), "{body}");
    assert_eq!(body["data"], json!(null), "{body}");
    let trips = &body["extensions"]["roundTrips"];
    assert_eq!(
        (trips["database"].as_u64(), trips["redis"].as_u64()),
        (Some(0), Some(0)),
        "no work done: {body}"
    );
}

backend_suite!(
    over_limit_queries_are_refused_before_any_work,
    every_depth_refusal_has_the_limit_code_and_introspection_is_bounded,
    an_oversized_body_is_refused_as_graphql_and_as_legacy_json,
);
backend_setups!(
    introspection_can_be_switched_off,
    a_client_over_its_rate_is_told_when_to_come_back
);

async fn over_limit_queries_are_refused_before_any_work(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    // The second round takes every document from the parsed-document cache.
    for _round in 0..2 {
        assert_refused(&app.graphql(Some(&a), &nested_following(5), json!({})).await, "depth");
        let costly = "{ following(first: 100) { nodes { following(first: 100) { nodes { following(first: 100) { nodes { id } } } } } } }";
        assert_refused(&app.graphql(Some(&a), costly, json!({})).await, "complexity");
        let many: Vec<String> = (0..31).map(|i| format!("a{i}: viewer {{ id }}")).collect();
        let aliased = format!("{{ {} }}", many.join(" "));
        assert_refused(&app.graphql(Some(&a), &aliased, json!({})).await, "aliases");
        let introspection = "{ __schema { types { name fields { name type { name ofType { name ofType {
            name ofType { name ofType { name ofType { name ofType { name ofType { name } } } } } } } } } } } }";
        let schema = app.graphql(Some(&a), introspection, json!({})).await;
        assert_eq!(
            schema["errors"],
            json!(null),
            "GraphiQL's deep introspection is not a data query"
        );
        let mixed =
            format!("{{ __typename {} }}", &nested_following(5)[1..nested_following(5).len() - 1]);
        assert_refused(&app.graphql(Some(&a), &mixed, json!({})).await, "depth");
        let within = app.graphql(Some(&a), &nested_following(2), json!({})).await;
        assert_eq!(within["errors"], json!(null), "{within}");
        let big_ids: Vec<String> = (1..=100).map(|i| i.to_string()).collect();
        let fan_out = "query($ids: [ID!]!) { users(ids: $ids) { following(first: 100) { nodes { following(first: 100) { totalCount } } } } }";
        assert_refused(
            &app.graphql(Some(&a), fan_out, json!({ "ids": big_ids })).await,
            "complexity",
        );
    }
}

/// Past any nesting, even the parser's own bound, a query is `QUERY_LIMIT` / `depth`; the
/// standard introspection query passes, a deeper introspection does not.
async fn every_depth_refusal_has_the_limit_code_and_introspection_is_bounded(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    for levels in [6, 20, 40, 100] {
        let body = app.graphql(Some(&a), &nested_following(levels), json!({})).await;
        assert_refused(&body, "depth");
    }
    let standard = include_str!("../fixtures/introspection.graphql");
    let body = app.graphql(None, standard, json!({})).await;
    assert_eq!(body["errors"], json!(null), "graphql-js's introspection query passes");
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], json!("Query"));
    let of_type = |n: usize| "ofType { ".repeat(n) + "name" + &" }".repeat(n);
    let within = format!("{{ __schema {{ types {{ {} }} }} }}", of_type(13));
    assert_eq!(app.graphql(None, &within, json!({})).await["errors"], json!(null), "16 deep");
    let deeper = format!("{{ __schema {{ types {{ {} }} }} }}", of_type(14));
    assert_refused(&app.graphql(None, &deeper, json!({})).await, "depth");
}

async fn an_oversized_body_is_refused_as_graphql_and_as_legacy_json(app: &TestApp) {
    let padding = "x".repeat(70 * 1024);
    let query = format!("{{ __typename }} # {padding}");
    let response =
        app.client.post(app.url("/graphql")).json(&json!({ "query": query })).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], json!("QUERY_LIMIT"));
    assert_eq!(body["errors"][0]["extensions"]["limit"], json!("size"));

    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    let two_mb = json!({ "target": 1, "padding": "y".repeat(2 * 1024 * 1024) });
    let (status, body) = app.rest_follow_with(Some(&format!("Bearer {}", a.token)), two_mb).await;
    assert_eq!(
        (status, body),
        (StatusCode::PAYLOAD_TOO_LARGE, json!({ "message": "Request body too large." }))
    );
}

async fn introspection_can_be_switched_off(setup: Setup) {
    let off = setup.app().tune(|s| s.graphql_introspection = false);
    let Some(off) = off.spawn().await else { return };
    let body = off.graphql(None, "{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(body["errors"][0]["extensions"]["code"], json!("FORBIDDEN"), "{body}");
    assert_eq!(body["errors"][0]["message"], json!("Introspection is disabled."));
    assert!(body.get("data").is_none(), "refused before execution: {body}");
    let typed = off
        .graphql(None, "query { ... on Query { __type(name: \"User\") { name } } }", json!({}))
        .await;
    assert_eq!(typed["errors"][0]["extensions"]["code"], json!("FORBIDDEN"), "{typed}");
    let typename = off.graphql(None, "{ __typename }", json!({})).await;
    assert_eq!(typename["data"]["__typename"], json!("Query"), "__typename is not introspection");
    let typo = off.graphql(None, "{ viewr { id } }", json!({})).await;
    let message = typo["errors"][0]["message"].as_str().unwrap();
    assert!(!message.contains("Did you mean"), "no suggestions either: {message}");
    assert_eq!(typo["errors"][0]["extensions"]["code"], json!("BAD_USER_INPUT"));
    off.teardown().await;
    let on = setup.app().spawn().await.unwrap();
    let body = on.graphql(None, "{ __schema { queryType { name } } }", json!({})).await;
    assert_eq!(body["data"]["__schema"]["queryType"]["name"], json!("Query"), "{body}");
    let typo = on.graphql(None, "{ viewr { id } }", json!({})).await;
    assert!(typo["errors"][0]["message"].as_str().unwrap().contains("Did you mean"), "{typo}");
    on.teardown().await;
}

async fn a_client_over_its_rate_is_told_when_to_come_back(setup: Setup) {
    let tuned = setup.app().tune(|s| s.rate_limit_per_minute = 5);
    let Some(app) = tuned.spawn().await else { return };
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    for _ in 0..5 {
        assert_eq!(app.rest_follow(&a, json!(b.id)).await.0, StatusCode::CREATED);
    }
    let response = app
        .client
        .post(app.url("/app/v1_0/user/followings"))
        .bearer_auth(&a.token)
        .json(&json!({ "target": b.id }))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
    let retry: u64 = response.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=61).contains(&retry), "{retry}");
    assert_eq!(response.json::<Value>().await.unwrap(), json!({ "message": "Too many requests." }));

    let limited = app
        .client
        .post(app.url("/graphql"))
        .bearer_auth(&a.token)
        .json(&json!({ "query": "{ viewer { id } }" }))
        .send()
        .await
        .unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key("retry-after"));
    let body: Value = limited.json().await.unwrap();
    assert_eq!(body["errors"][0]["extensions"]["code"], json!("RATE_LIMITED"));

    let other = app.graphql(Some(&b), "{ viewer { id } }", json!({})).await;
    assert_eq!(other["errors"], json!(null), "another viewer has a bucket of its own: {other}");
    assert_eq!(app.client.get(app.url("/readyz")).send().await.unwrap().status(), StatusCode::OK);
    app.teardown().await;
}

#[tokio::test]
async fn a_client_trickling_its_headers_is_dropped() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let app = TestApp::on(Backend::Sqlite)
        .tune(|s| s.header_read_timeout_ms = 500)
        .spawn()
        .await
        .unwrap();
    let mut slow = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    slow.write_all(b"POST /graphql HTTP/1.1\r\nHost: localhost\r\n").await.unwrap();
    let started = std::time::Instant::now();
    let mut answer = Vec::new();
    let read =
        tokio::time::timeout(std::time::Duration::from_secs(5), slow.read_to_end(&mut answer))
            .await;
    assert!(read.is_ok(), "the connection was closed, not left open");
    assert!(started.elapsed() < std::time::Duration::from_secs(3), "within the header timeout");
    let healthy = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(healthy.status(), StatusCode::OK, "other clients are served");
    app.teardown().await;
}

setup_suite!(
    [sqlite_redis, postgres_redis, postgres_cluster, mysql_redis]
    the_rate_limit_holds_across_instances
);
backend_setups!(without_redis_each_instance_still_limits_alone);

/// `{ viewer { id } }` as `actor` on the instance at `addr`: the HTTP status.
async fn viewer_at(app: &TestApp, addr: std::net::SocketAddr, actor: &Actor) -> StatusCode {
    let request = app.client.post(format!("http://{addr}/graphql")).bearer_auth(&actor.token);
    let body = json!({ "query": "{ viewer { id } }" });
    request.json(&body).send().await.expect("graphql").status()
}

async fn the_rate_limit_holds_across_instances(setup: Setup) {
    let Some(app) = setup.app().tune(|s| s.rate_limit_per_minute = 6).spawn().await else { return };
    let other = app.another_instance(|s| s.rate_limit_per_minute = 6).await;
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    for addr in [app.addr, other.addr, app.addr, other.addr, app.addr, other.addr] {
        assert_eq!(viewer_at(&app, addr, &a).await, StatusCode::OK);
    }
    for addr in [app.addr, other.addr] {
        assert_eq!(viewer_at(&app, addr, &a).await, StatusCode::TOO_MANY_REQUESTS, "6 in all");
    }
    assert_eq!(viewer_at(&app, other.addr, &b).await, StatusCode::OK, "b has its own");
    app.teardown().await;
}

async fn without_redis_each_instance_still_limits_alone(setup: Setup) {
    let closed = format!("redis://127.0.0.1:{}", crate::helpers::free_port());
    let tuned = setup.app().redis_url(closed).tune(|s| s.rate_limit_per_minute = 3);
    let Some(app) = tuned.spawn().await else { return };
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    for _ in 0..3 {
        assert_eq!(viewer_at(&app, app.addr, &a).await, StatusCode::OK);
    }
    assert_eq!(viewer_at(&app, app.addr, &a).await, StatusCode::TOO_MANY_REQUESTS);
    app.teardown().await;
}

//! SPEC §9, GraphQL over HTTP: media types by `Accept`, 4xx without `data` for requests that
//! never ran under `application/graphql-response+json`, queries over GET, GraphiQL only for a
//! browser.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_code, TestApp};

const GRAPHQL_RESPONSE: &str = "application/graphql-response+json";

/// POSTs `body` with the given `Accept` (none at all if `None`: reqwest always sends one, so
/// that request is written by hand); status, content type and body.
async fn post(app: &TestApp, accept: Option<&str>, body: Value) -> (StatusCode, String, Value) {
    match accept {
        Some(accept) => {
            let request = app.client.post(app.url("/graphql")).json(&body);
            answer(request.header("accept", accept)).await
        }
        None => post_without_accept(app, &body).await,
    }
}

async fn post_without_accept(app: &TestApp, body: &Value) -> (StatusCode, String, Value) {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let body = body.to_string();
    let request = format!(
        "POST /graphql HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        app.addr,
        body.len()
    );
    let mut stream = tokio::net::TcpStream::connect(app.addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut raw = String::new();
    stream.read_to_string(&mut raw).await.unwrap();
    let (head, payload) = raw.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse::<u16>().unwrap();
    let media = head
        .lines()
        .find_map(|line| {
            line.to_ascii_lowercase().strip_prefix("content-type: ").map(str::to_owned)
        })
        .unwrap();
    let payload = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        payload.split("\r\n").nth(1).unwrap().to_owned()
    } else {
        payload.to_owned()
    };
    (
        StatusCode::from_u16(status).unwrap(),
        media,
        serde_json::from_str(&payload).unwrap_or(Value::Null),
    )
}

async fn answer(request: reqwest::RequestBuilder) -> (StatusCode, String, Value) {
    let response = request.send().await.unwrap();
    let status = response.status();
    let media = response.headers()["content-type"].to_str().unwrap().to_owned();
    (status, media, response.json().await.unwrap_or(Value::Null))
}

backend_suite!(
    the_accept_header_picks_the_media_type_and_the_status_of_a_refusal,
    requests_that_are_not_graphql_requests_answer_400,
    queries_run_over_get_and_mutations_do_not
);

async fn the_accept_header_picks_the_media_type_and_the_status_of_a_refusal(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    let ok = json!({ "query": "{ __typename }" });
    for (accept, media) in [
        (None, GRAPHQL_RESPONSE),
        (Some(GRAPHQL_RESPONSE), GRAPHQL_RESPONSE),
        (Some("application/json"), "application/json"),
        (Some("*/*"), "application/json"),
        (Some("application/graphql-response+json, application/json;q=0.9"), GRAPHQL_RESPONSE),
    ] {
        let (status, got, body) = post(app, accept, ok.clone()).await;
        assert_eq!(status, StatusCode::OK, "{accept:?}");
        assert!(got.starts_with(media), "{accept:?} answered {got}");
        assert_eq!(body["data"]["__typename"], json!("Query"));
    }
    let never_ran = [
        json!({ "query": "{" }),
        json!({ "query": "{ nosuchfield }" }),
        json!({ "query": "query($id: ID!) { user(id: $id) { id } }", "variables": { "id": null } }),
    ];
    for body in never_ran {
        let (status, _, answer) = post(app, Some(GRAPHQL_RESPONSE), body.clone()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}: {answer}");
        assert!(answer.get("data").is_none(), "no data entry: {answer}");
        assert_eq!(error_code(&answer), Some("BAD_USER_INPUT"), "{answer}");
        let (status, _, legacy) = post(app, Some("application/json"), body.clone()).await;
        assert_eq!(status, StatusCode::OK, "{body}: {legacy}");
        assert!(legacy.get("data").is_none(), "{legacy}");
        assert_eq!(error_code(&legacy), Some("BAD_USER_INPUT"), "{legacy}");
    }
    let ran = json!({ "query": "mutation { followUser(target: \"1\") { target } }" });
    let request = app.client.post(app.url("/graphql")).bearer_auth(&a.token).json(&ran);
    let (status, _, body) = answer(request.header("accept", GRAPHQL_RESPONSE)).await;
    assert_eq!(status, StatusCode::OK, "an error in a field is an executed request: {body}");
    assert!(body.get("data").is_some(), "{body}");
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");

    let forged = app.client.post(app.url("/graphql")).bearer_auth("not-a-token").json(&ok);
    let (status, _, body) = answer(forged.header("accept", GRAPHQL_RESPONSE)).await;
    assert_eq!((status, error_code(&body)), (StatusCode::UNAUTHORIZED, Some("UNAUTHENTICATED")));
    let limited = json!({ "query": "{ a0: __typename a1: __typename a2: __typename a3: __typename a4: __typename a5: __typename a6: __typename a7: __typename a8: __typename a9: __typename b0: __typename b1: __typename b2: __typename b3: __typename b4: __typename b5: __typename b6: __typename b7: __typename b8: __typename b9: __typename c0: __typename c1: __typename c2: __typename c3: __typename c4: __typename c5: __typename c6: __typename c7: __typename c8: __typename c9: __typename d0: __typename }" });
    let (status, _, body) = post(app, None, limited).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, Some("QUERY_LIMIT")),
        "{body}"
    );
}

async fn requests_that_are_not_graphql_requests_answer_400(app: &TestApp) {
    for body in [
        json!({ "notquery": "{ __typename }" }),
        json!({ "query": 0 }),
        json!({ "query": "{ __typename }", "variables": "x" }),
        json!({ "query": "{ __typename }", "operationName": false }),
        json!({ "query": "{ __typename }", "extensions": ["x"] }),
    ] {
        for accept in [GRAPHQL_RESPONSE, "application/json"] {
            let (status, _, answer) = post(app, Some(accept), body.clone()).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{body} as {accept}: {answer}");
            assert_eq!(error_code(&answer), Some("BAD_USER_INPUT"), "{answer}");
        }
    }
    let nulls = json!({ "query": "{ __typename }", "variables": null, "operationName": null, "extensions": null });
    assert_eq!(post(app, None, nulls).await.0, StatusCode::OK);
    let no_type = app.client.post(app.url("/graphql")).body("{\"query\":\"{ __typename }\"}");
    assert_eq!(answer(no_type).await.0, StatusCode::UNSUPPORTED_MEDIA_TYPE);
}

async fn queries_run_over_get_and_mutations_do_not(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    app.rest_follow(&a, json!(b.id)).await;
    let query = "query Counts($id: ID!) { user(id: $id) { followersCount } }";
    let variables = json!({ "id": b.id.to_string() }).to_string();
    let request = app.client.get(app.url("/graphql")).query(&[
        ("query", query),
        ("variables", &variables),
        ("operationName", "Counts"),
    ]);
    let (status, media, body) = answer(request.header("accept", GRAPHQL_RESPONSE)).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert!(media.starts_with(GRAPHQL_RESPONSE));
    assert_eq!(body["data"]["user"]["followersCount"], json!(1), "{body}");

    let viewer = app.client.get(app.url("/graphql")).bearer_auth(&a.token);
    let (_, _, body) = answer(viewer.query(&[("query", "{ viewer { followingCount } }")])).await;
    assert_eq!(
        body["data"]["viewer"]["followingCount"],
        json!(1),
        "the token counts over GET: {body}"
    );

    let unfollow = format!("mutation {{ unfollowUser(target: \"{}\") {{ target }} }}", b.id);
    let request = app.client.get(app.url("/graphql")).bearer_auth(&a.token);
    let response = request.query(&[("query", unfollow.as_str())]).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(response.headers()["allow"], "POST");
    let body: Value = response.json().await.unwrap();
    assert!(body["errors"][0]["message"].as_str().unwrap().contains("POST"), "{body}");
    assert_eq!(app.relation(a.id, b.id).await.unwrap().relation, 1, "nothing was executed");

    let bad = app
        .client
        .get(app.url("/graphql"))
        .query(&[("query", "{ __typename }"), ("variables", "[1]")]);
    assert_eq!(answer(bad).await.0, StatusCode::BAD_REQUEST);
    let nothing = app.client.get(app.url("/graphql")).header("accept", "application/json");
    let (status, _, body) = answer(nothing).await;
    assert_eq!((status, error_code(&body)), (StatusCode::BAD_REQUEST, Some("BAD_USER_INPUT")));
    let page =
        app.client.get(app.url("/graphql")).header("accept", "text/html").send().await.unwrap();
    assert!(page.headers()["content-type"].to_str().unwrap().starts_with("text/html"));
    let browser_query = app.client.get(app.url("/graphql")).header("accept", "text/html");
    let (status, media, _) = answer(browser_query.query(&[("query", "{ __typename }")])).await;
    assert_eq!(status, StatusCode::OK);
    assert!(media.starts_with("application/json"), "a GET with a query executes: {media}");
}

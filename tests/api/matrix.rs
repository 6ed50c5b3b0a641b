//! The bad-input matrix of the hardening issue: every case gets a clear error with a stable code
//! or legacy shape, and nothing is written.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_code, read, Actor, TestApp};

const MISSING: &str = "Missing required parameter in the JSON body";
const INVALID: &str = "Invalid target user id.";

fn bad_targets() -> Vec<Value> {
    vec![
        json!(""),
        json!("abc"),
        json!("1.5"),
        json!(-1),
        json!(0),
        json!(1.5),
        json!(9_223_372_036_854_775_808u64),
        json!("18446744073709551616"),
        json!("9".repeat(10_000)),
        json!({ "id": 1 }),
        json!([1]),
        json!(true),
        json!("１２"),
        json!("12\u{0}"),
        json!("12\u{0}abc"),
        json!("+12"),
        json!(" 12"),
    ]
}

async fn raw_post(
    app: &TestApp,
    actor: &Actor,
    content_type: &str,
    body: Vec<u8>,
) -> (StatusCode, Value) {
    let request = app.client.post(app.url("/app/v1_0/user/followings")).bearer_auth(&actor.token);
    read(request.header("Content-Type", content_type).body(body).send().await.unwrap()).await
}

backend_suite!(
    every_bad_target_is_refused_and_writes_nothing,
    bad_graphql_documents_and_variables_get_bad_user_input
);

async fn every_bad_target_is_refused_and_writes_nothing(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    let header = format!("Bearer {}", a.token);
    for target in bad_targets() {
        let (status, body) =
            app.rest_follow_with(Some(&header), json!({ "target": target.clone() })).await;
        assert_eq!(
            (status, body),
            (StatusCode::BAD_REQUEST, json!({ "message": { "target": INVALID } })),
            "{target}"
        );
        if !target.is_f64() && !target.is_object() && !target.is_array() && !target.is_boolean() {
            let body = app.gql_act(&a, "followUser", target.clone()).await;
            assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{target}: {body}");
        }
    }
    for body in
        [json!({}), json!({ "target": null }), json!({ "other": b.id }), json!([b.id]), json!("x")]
    {
        let (status, answer) = app.rest_follow_with(Some(&header), body.clone()).await;
        assert_eq!(
            (status, answer),
            (StatusCode::BAD_REQUEST, json!({ "message": { "target": MISSING } })),
            "{body}"
        );
    }
    let with_extra = json!({ "target": b.id, "unknown": "ignored, as reqparse did" });
    assert_eq!(app.rest_follow_with(Some(&header), with_extra).await.0, StatusCode::CREATED);
    assert_eq!(app.rest_unfollow(&a, &b.id.to_string()).await.0, StatusCode::OK);
    let rows_before = app.database.rows_touching(a.id).await;

    let bodies: [(&str, &[u8]); 5] = [
        ("application/json", b"not json"),
        ("application/json", br#"{"target": 1"#),
        ("application/json", b""),
        ("text/plain", br#"{"target": 1}"#),
        ("application/x-www-form-urlencoded", b"target=1"),
    ];
    for (content_type, raw) in bodies {
        let (status, answer) = raw_post(app, &a, content_type, raw.to_vec()).await;
        let expected = json!({ "message": { "target": MISSING } });
        assert_eq!((status, answer), (StatusCode::BAD_REQUEST, expected), "{content_type} {raw:?}");
    }
    for path in ["abc", "1.5", "-1", "0", "%2B12", "12abc", "１２"] {
        let (status, body) = app.rest_unfollow(&a, path).await;
        assert_eq!(
            (status, body),
            (StatusCode::BAD_REQUEST, json!({ "message": { "target": INVALID } })),
            "{path}"
        );
    }
    assert_eq!(
        app.database.rows_touching(a.id).await,
        rows_before,
        "nothing written by any refusal"
    );
}

async fn bad_graphql_documents_and_variables_get_bad_user_input(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    let cases = [
        ("{ viewer { id ", json!({})),
        ("{ viewer { nope } }", json!({})),
        ("mutation($t: ID!) { followUser(target: $t) { target } }", json!({ "t": { "x": 1 } })),
        ("mutation($t: ID!) { followUser(target: $t) { target } }", json!({})),
        ("mutation($t: ID!) { followUser(target: $t) { target } }", json!({ "t": 1.5 })),
        ("query($f: Int) { following(first: $f) { totalCount } }", json!({ "f": "ten" })),
        ("{ user(id: \"1\\u0000\") { id } }", json!({})),
    ];
    for (query, variables) in cases {
        let body = app.graphql(Some(&a), query, variables.clone()).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{query} {variables}: {body}");
    }
    let request = app.client.post(app.url("/graphql")).bearer_auth(&a.token);
    let (status, body) = read(
        request
            .header("Content-Type", "text/plain")
            .body("{ viewer { id } }")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::UNSUPPORTED_MEDIA_TYPE, Some("BAD_USER_INPUT"))
    );
    let batch = json!([{ "query": "{ viewer { id } }" }, { "query": "{ viewer { id } }" }]);
    let (status, body) =
        read(app.client.post(app.url("/graphql")).json(&batch).send().await.unwrap()).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, Some("BAD_USER_INPUT")),
        "batches are refused"
    );

    let follow = format!("mutation {{ followUser(target: \"{}\") {{ target }} }}", a.id + 1);
    let url = app.url(&format!("/graphql?query={}", follow.replace(' ', "%20")));
    let refused = app.client.get(url).bearer_auth(&a.token).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::METHOD_NOT_ALLOWED, "a mutation never runs over GET");
    assert_eq!(refused.headers()["allow"], "POST");
    let body: serde_json::Value = refused.json().await.unwrap();
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(app.database.rows_touching(a.id).await, 0);
}

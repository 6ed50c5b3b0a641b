//! SPEC §14's relationship features, through GraphQL on every backend: a follower removed
//! without a block.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_code, Actor, TestApp};

backend_suite!(
    removing_a_follower_ends_their_follow_and_keeps_the_viewers,
    removing_someone_who_does_not_follow_changes_nothing,
    removing_oneself_or_an_unknown_user_is_refused_and_writes_nothing
);

/// The viewer's followers: their total and ids, first page.
async fn followers(app: &TestApp, viewer: &Actor) -> (i64, Vec<Value>) {
    let query = "{ followers(first: 20) { totalCount nodes { id } } }";
    let body = app.graphql(Some(viewer), query, json!({})).await;
    let page = &body["data"]["followers"];
    let ids = page["nodes"].as_array().map(|n| n.iter().map(|u| u["id"].clone()).collect());
    (page["totalCount"].as_i64().unwrap_or(-1), ids.unwrap_or_default())
}

async fn removing_a_follower_ends_their_follow_and_keeps_the_viewers(app: &TestApp) {
    let [a, b, c] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    app.rest_follow(&a, json!(b.id)).await;
    app.rest_follow(&b, json!(a.id)).await;
    app.rest_follow(&c, json!(a.id)).await;
    assert_eq!(followers(app, &a).await.0, 2, "read once, so cached where there is a cache");

    let body = app.gql_act(&a, "removeFollower", json!(b.id.to_string())).await;
    assert_eq!(body["errors"], json!(null), "{body}");
    let payload = &body["data"]["removeFollower"];
    assert_eq!(payload["target"], json!(b.id.to_string()));
    assert_eq!(payload["user"]["viewerIsFollowing"], json!(true), "the viewer's follow stays");
    assert_eq!(app.relation(b.id, a.id).await.expect("row kept").relation, 0);
    assert_eq!(app.relation(a.id, b.id).await.expect("row").relation, 1);
    assert_eq!(app.counts(a.id).await, (1, 1));
    assert_eq!(app.counts(b.id).await, (0, 1));
    assert_eq!(followers(app, &a).await, (1, vec![json!(c.id.to_string())]));

    let again = app.gql_act(&a, "removeFollower", json!(b.id)).await;
    assert_eq!(again["errors"], json!(null), "repeating it succeeds: {again}");
    assert_eq!(app.counts(a.id).await, (1, 1));
    let (status, _) = app.rest_follow(&b, json!(a.id)).await;
    assert_eq!(status, StatusCode::CREATED, "no block: they may follow again");
    assert_eq!(followers(app, &a).await.0, 2);
}

async fn removing_someone_who_does_not_follow_changes_nothing(app: &TestApp) {
    let [a, b, c] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    let body = app.gql_act(&a, "removeFollower", json!(b.id)).await;
    assert_eq!(body["errors"], json!(null), "{body}");
    assert_eq!(app.database.rows_touching(a.id).await, 0, "no row written");

    app.graphql(
        Some(&a),
        "mutation($t: ID!) { blockUser(target: $t) { target } }",
        json!({ "t": c.id }),
    )
    .await;
    let blocked = app.relation(a.id, c.id).await;
    let body = app.gql_act(&a, "removeFollower", json!(c.id)).await;
    assert_eq!(body["errors"], json!(null), "{body}");
    assert_eq!(app.relation(a.id, c.id).await, blocked, "the block stays as it was");
    assert!(app.relation(c.id, a.id).await.is_none());
}

async fn removing_oneself_or_an_unknown_user_is_refused_and_writes_nothing(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    let body = app.gql_act(&a, "removeFollower", json!(a.id)).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    let body = app.gql_act(&a, "removeFollower", json!(a.id + 500_000_000)).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"), "{body}");
    let body = app.gql_act(&a, "removeFollower", json!("x")).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{body}");
    assert_eq!(app.database.rows_touching(a.id).await, 0);
}

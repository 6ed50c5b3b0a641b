//! SPEC §4 blocks: a block removes follows both ways, and nobody follows across one.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{error_code, read, Actor, TestApp};

async fn rest_block(app: &TestApp, actor: &Actor, target: i64) -> (StatusCode, serde_json::Value) {
    let request = app.client.post(app.url("/app/v1_0/user/blacklists")).bearer_auth(&actor.token);
    read(request.json(&json!({ "target": target })).send().await.unwrap()).await
}

async fn rest_unblock(
    app: &TestApp,
    actor: &Actor,
    target: i64,
) -> (StatusCode, serde_json::Value) {
    let url = app.url(&format!("/app/v1_0/user/blacklists/{target}"));
    read(app.client.delete(url).bearer_auth(&actor.token).send().await.unwrap()).await
}

backend_suite!(
    a_block_removes_follows_both_ways_and_stops_new_ones,
    unblock_lifts_the_block_without_restoring_follows,
    block_refusals_match_across_transports
);

async fn a_block_removes_follows_both_ways_and_stops_new_ones(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    app.rest_follow(&a, json!(b.id)).await;
    app.rest_follow(&b, json!(a.id)).await;
    assert_eq!(app.counts(a.id).await, (1, 1));

    let (status, body) = rest_block(app, &a, b.id).await;
    assert_eq!(
        (status, body),
        (StatusCode::CREATED, json!({ "message": "OK", "data": { "target": b.id } }))
    );
    assert_eq!(app.relation(a.id, b.id).await.unwrap().relation, 2);
    assert_eq!(app.relation(b.id, a.id).await.unwrap().relation, 0);
    assert_eq!(app.counts(a.id).await, (0, 0));
    assert_eq!(app.counts(b.id).await, (0, 0));

    let (status, _) = app.rest_follow(&b, json!(a.id)).await;
    assert_eq!(status, StatusCode::FORBIDDEN, "the blocked cannot follow the blocker");
    let body = app.gql_act(&a, "followUser", json!(b.id)).await;
    assert_eq!(error_code(&body), Some("FORBIDDEN"), "the blocker must unblock first: {body}");
    assert_eq!(app.relation(b.id, a.id).await.unwrap().relation, 0, "refusals write nothing");

    let query = "query($id: ID!) { user(id: $id) { viewerHasBlocked viewerIsFollowing } }";
    let flags = app.graphql(Some(&a), query, json!({ "id": b.id })).await;
    assert_eq!(
        flags["data"]["user"],
        json!({ "viewerHasBlocked": true, "viewerIsFollowing": false })
    );

    let again = rest_block(app, &a, b.id).await.0;
    assert_eq!(again, StatusCode::CREATED, "blocking twice succeeds");
    let before = app.relation(a.id, b.id).await;
    let mutation =
        "mutation($t: ID!) { blockUser(target: $t) { target user { viewerHasBlocked } } }";
    let body = app.graphql(Some(&a), mutation, json!({ "t": b.id })).await;
    assert_eq!(body["data"]["blockUser"]["user"]["viewerHasBlocked"], json!(true), "{body}");
    assert_eq!(app.relation(a.id, b.id).await, before, "a repeat block writes nothing");
}

async fn unblock_lifts_the_block_without_restoring_follows(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    app.rest_follow(&b, json!(a.id)).await;
    rest_block(app, &a, b.id).await;
    let (status, body) = rest_unblock(app, &a, b.id).await;
    assert_eq!((status, body), (StatusCode::OK, json!({ "message": "OK" })));
    assert_eq!(app.relation(a.id, b.id).await.unwrap().relation, 0);
    assert_eq!(app.relation(b.id, a.id).await.unwrap().relation, 0, "no follow comes back");
    let mutation =
        "mutation($t: ID!) { unblockUser(target: $t) { target user { viewerHasBlocked } } }";
    let body = app.graphql(Some(&a), mutation, json!({ "t": b.id })).await;
    assert_eq!(
        body["data"]["unblockUser"],
        json!({ "target": b.id.to_string(), "user": { "viewerHasBlocked": false } })
    );
    assert_eq!(app.rest_follow(&b, json!(a.id)).await.0, StatusCode::CREATED, "b may follow again");
    assert_eq!(app.rest_follow(&a, json!(b.id)).await.0, StatusCode::CREATED, "and a may too");
    assert_eq!(app.counts(a.id).await, (1, 1));
}

async fn block_refusals_match_across_transports(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    let (status, body) = rest_block(app, &a, a.id).await;
    assert_eq!(
        (status, body),
        (StatusCode::BAD_REQUEST, json!({ "message": "User cannot blacklist self." }))
    );
    let mutation = "mutation($t: ID!) { blockUser(target: $t) { target } }";
    let body = app.graphql(Some(&a), mutation, json!({ "t": a.id })).await;
    assert_eq!(error_code(&body), Some("BAD_USER_INPUT"));
    let nobody = a.id + 800_000_000;
    assert_eq!(rest_block(app, &a, nobody).await.0, StatusCode::NOT_FOUND);
    let body = app.graphql(Some(&a), mutation, json!({ "t": nobody })).await;
    assert_eq!(error_code(&body), Some("NOT_FOUND"));
    assert_eq!(app.database.rows_touching(a.id).await, 0);
}

//! SPEC §14's relationship features, through GraphQL on every backend: a follower removed
//! without a block, and the followers a viewer knows. Locked accounts and their requests are in
//! `follow_requests.rs`.

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{error_code, Actor, TestApp};

backend_suite!(
    removing_a_follower_ends_their_follow_and_keeps_the_viewers,
    removing_someone_who_does_not_follow_changes_nothing,
    removing_oneself_or_an_unknown_user_is_refused_and_writes_nothing,
    known_followers_are_the_owners_followers_the_viewer_follows_newest_first,
    known_followers_of_1_10_and_50_users_cost_the_same_round_trips,
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

const KNOWN: &str = "query($id: ID!, $first: Int, $after: String) { user(id: $id) {
    knownFollowers(first: $first, after: $after) {
        totalCount edges { cursor node { id } } pageInfo { hasNextPage }
    }
} }";

/// A page of `owner`'s known followers as `viewer` sees them: total, ids, the last cursor and
/// whether more follow.
async fn known(
    app: &TestApp,
    viewer: &Actor,
    owner: i64,
    first: i64,
    after: Option<&str>,
) -> (i64, Vec<i64>, Option<String>, bool) {
    let variables = json!({ "id": owner.to_string(), "first": first, "after": after });
    let body = app.graphql(Some(viewer), KNOWN, variables).await;
    assert_eq!(body["errors"], json!(null), "{body}");
    let page = &body["data"]["user"]["knownFollowers"];
    let edges = page["edges"].as_array().expect("edges");
    let ids = edges.iter().map(|e| e["node"]["id"].as_str().unwrap().parse().unwrap()).collect();
    let cursor = edges.last().map(|e| e["cursor"].as_str().unwrap().to_owned());
    let more = page["pageInfo"]["hasNextPage"].as_bool().expect("hasNextPage");
    (page["totalCount"].as_i64().expect("total"), ids, cursor, more)
}

async fn known_followers_are_the_owners_followers_the_viewer_follows_newest_first(app: &TestApp) {
    let [v, o, a, b, c, d] = <[_; 6]>::try_from(app.actors(6).await).unwrap();
    for followed in [&a, &b, &c] {
        app.rest_follow(&v, json!(followed.id)).await;
    }
    // a follows o last and has the lower id, so a comes first on MySQL's whole seconds too.
    for follower in [&c, &b, &d, &a] {
        app.rest_follow(follower, json!(o.id)).await;
    }
    app.rest_unfollow(&b, &o.id.to_string()).await;
    assert_eq!(followers(app, &o).await.0, 3, "read once, so cached where there is a cache");

    let (total, ids, cursor, more) = known(app, &v, o.id, 1, None).await;
    assert_eq!((total, ids, more), (2, vec![a.id], true), "b left; d is not followed by v");
    let (total, ids, _, more) = known(app, &v, o.id, 1, cursor.as_deref()).await;
    assert_eq!((total, ids, more), (2, vec![c.id], false));
    let (total, ids, _, _) = known(app, &d, o.id, 10, None).await;
    assert_eq!((total, ids), (0, vec![]), "d follows nobody");

    app.rest_follow(&b, json!(o.id)).await;
    let mut ids = known(app, &v, o.id, 10, None).await.1;
    ids.sort_unstable();
    assert_eq!(ids, vec![a.id, b.id, c.id], "b is known again");
    let anonymous = app.graphql(None, KNOWN, json!({ "id": o.id.to_string() })).await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"), "{anonymous}");
}

async fn known_followers_of_1_10_and_50_users_cost_the_same_round_trips(app: &TestApp) {
    let users = app.actors(54).await;
    let (viewer, rest) = users.split_first().unwrap();
    let (followed, owners) = rest.split_at(3);
    for friend in followed {
        app.rest_follow(viewer, json!(friend.id)).await;
    }
    for (i, owner) in owners.iter().enumerate() {
        app.rest_follow(&followed[i % 3], json!(owner.id)).await;
    }
    let query = "query($ids: [ID!]!) { users(ids: $ids) {
        knownFollowers(first: 5) { totalCount nodes { id name } }
    } }";
    let mut seen = Vec::new();
    for n in [1, 10, 50] {
        let ids: Vec<String> = owners[..n].iter().map(|u| u.id.to_string()).collect();
        let body = app.graphql(Some(viewer), query, json!({ "ids": ids })).await;
        assert_eq!(body["errors"], json!(null), "{body}");
        for (i, user) in body["data"]["users"].as_array().expect("users").iter().enumerate() {
            let friend = followed[i % 3].id.to_string();
            let name = format!("user {friend}");
            let expected = json!({ "totalCount": 1, "nodes": [{ "id": friend, "name": name }] });
            assert_eq!(user["knownFollowers"], expected);
        }
        let trips = &body["extensions"]["roundTrips"];
        seen.push((trips["database"].as_u64().expect("reported"), trips["redis"].as_u64()));
    }
    // Owners' profiles, the known followers, their profiles: three at most, whatever the size
    // (profiles already in memory cost none).
    assert_eq!(seen[1], seen[2], "round trips for 1, 10, 50: {seen:?}");
    assert!(seen.iter().all(|&(db, _)| (1..=3).contains(&db)), "{seen:?}");
}

//! SPEC §6: the round trips of a query do not grow with the number of users in it.

use std::collections::HashSet;

use serde_json::{json, Value};

use crate::helpers::{Actor, TestApp};

const FAN_OUT: &str = "query($ids: [ID!]!) { users(ids: $ids) {
    name followersCount viewerIsFollowing
    following(first: 10) { totalCount nodes { name isFollowingViewer } }
} }";

/// Runs the fan-out query over `ids` and returns its round trips as `(database, redis)`.
async fn trips(app: &TestApp, viewer: &Actor, ids: &[i64]) -> (u64, u64) {
    let body = app.graphql(Some(viewer), FAN_OUT, json!({ "ids": ids })).await;
    assert_eq!(body["errors"], json!(null), "{body}");
    let users = body["data"]["users"].as_array().unwrap();
    assert_eq!(users.len(), ids.len());
    assert!(users
        .iter()
        .all(|u| u["following"]["nodes"].as_array().is_some_and(|n| !n.is_empty())));
    let trips = &body["extensions"]["roundTrips"];
    let count = |v: &Value| v.as_u64().expect("round trips reported");
    (count(&trips["database"]), count(&trips["redis"]))
}

backend_suite!(round_trips_stay_constant_for_1_10_and_50_users);

async fn round_trips_stay_constant_for_1_10_and_50_users(app: &TestApp) {
    let users = app.actors(61).await;
    let (viewer, rest) = users.split_first().unwrap();
    let (listed, followed) = rest.split_at(50);
    for (i, user) in listed.iter().enumerate() {
        for target in followed.iter().skip(i % 5).take(3) {
            app.rest_follow(user, json!(target.id)).await;
        }
        if i % 2 == 0 {
            app.rest_follow(viewer, json!(user.id)).await;
        }
    }
    let ids: Vec<i64> = listed.iter().map(|u| u.id).collect();
    let cached = app.redis.is_some();
    let mut seen = Vec::new();
    for n in [1, 10, 50] {
        let cold = trips(app, viewer, &ids[..n]).await;
        let warm = trips(app, viewer, &ids[..n]).await;
        seen.push((n, cold, warm));
    }
    // The query has four levels (users; their counts, pages and flags; the pages' users and
    // totals; those users' flags), so at most seven database round trips, however many
    // users. Batches of one level may merge with the next, which only lowers the count.
    // With a warm cache, only profiles and flags still go to the database.
    let (cold_max, warm_max) = if cached { ((7, 5), (4, 3)) } else { ((7, 0), (7, 0)) };
    for (n, cold, warm) in &seen {
        let within =
            |got: (u64, u64), max: (u64, u64)| got.0 >= 1 && got.0 <= max.0 && got.1 <= max.1;
        assert!(within(*cold, cold_max), "cold round trips for {n} users: {seen:?}");
        assert!(within(*warm, warm_max), "warm round trips for {n} users: {seen:?}");
        if !cached {
            assert_eq!((cold.1, warm.1), (0, 0), "no cache, no Redis");
        }
    }
}

backend_suite!(every_way_of_selecting_a_field_answers_the_truth);

/// The look-ahead that loads a list's fields at once must see through fragments, aliases with
/// other arguments, variables and directives: every user object in the answer, at any depth,
/// carries the counts and flags its rows say.
async fn every_way_of_selecting_a_field_answers_the_truth(app: &TestApp) {
    let users = app.actors(5).await;
    let [v, a, b, c, d] = [0, 1, 2, 3, 4].map(|i| &users[i]);
    for (from, to) in [(v, a), (a, v), (b, a), (c, a), (a, b), (a, c), (a, d)] {
        app.rest_follow(from, json!(to.id)).await;
    }
    let blocked = app.client.post(app.url("/app/v1_0/user/blacklists")).bearer_auth(&v.token);
    blocked.json(&json!({ "target": d.id })).send().await.expect("block");
    // id → (followingCount, followersCount, viewerIsFollowing, isFollowingViewer, viewerHasBlocked)
    let truth: std::collections::HashMap<String, (i64, i64, bool, bool, bool)> = [
        (v, (1, 1, false, false, false)),
        (a, (4, 3, true, true, false)),
        (b, (1, 1, false, false, false)),
        (c, (1, 1, false, false, false)),
        (d, (0, 1, false, false, true)),
    ]
    .into_iter()
    .map(|(user, facts)| (user.id.to_string(), facts))
    .collect();
    let query = "query($ids: [ID!]!, $a: ID!, $first: Int!, $yes: Boolean!) {
        users(ids: $ids) {
            id ...Counts
            ... on User { viewerIsFollowing }
            isFollowingViewer @include(if: $yes)
            one: followers(first: 1) { totalCount nodes { id ...Flags } }
            all: followers(first: $first) { edges { node { id viewerHasBlocked isFollowingViewer } } }
            following(first: 5) { totalCount nodes { id followersCount viewerIsFollowing } }
        }
        node(id: $a) { id ... on User { followingCount viewerHasBlocked } }
        following { totalCount nodes { id followersCount isFollowingViewer } }
    }
    fragment Counts on User { followersCount followingCount }
    fragment Flags on User { viewerIsFollowing isFollowingViewer }";
    let ids = [a.id.to_string(), b.id.to_string()];
    let variables = json!({ "ids": ids, "a": a.id.to_string(), "first": 10, "yes": true });
    let body = app.graphql(Some(v), query, variables).await;
    assert_eq!(body["errors"], json!(null), "{body}");
    let mut checked = 0;
    check_users(&body["data"], &truth, &mut checked);
    assert_eq!(checked, 15, "user objects checked in {body}");
    let data = &body["data"];
    let ids_of = |list: &Value| -> HashSet<String> {
        let nodes = list.as_array().unwrap().iter();
        nodes.map(|n| n.get("node").unwrap_or(n)["id"].as_str().unwrap().to_owned()).collect()
    };
    let set = |users: &[&crate::helpers::Actor]| users.iter().map(|u| u.id.to_string()).collect();
    assert_eq!(ids_of(&data["users"][0]["all"]["edges"]), set(&[v, b, c]));
    assert_eq!(ids_of(&data["users"][0]["following"]["nodes"]), set(&[v, b, c, d]));
    assert_eq!(ids_of(&data["users"][1]["following"]["nodes"]), set(&[a]));
    assert_eq!(data["users"][0]["one"]["totalCount"], json!(3));
    assert_eq!(data["users"][0]["one"]["nodes"].as_array().unwrap().len(), 1);
    assert_eq!(data["following"]["totalCount"], json!(1));
}

/// Checks every object with an `id` against `truth`, for each of its fields that `truth` knows.
fn check_users(
    value: &Value,
    truth: &std::collections::HashMap<String, (i64, i64, bool, bool, bool)>,
    checked: &mut usize,
) {
    match value {
        Value::Array(items) => items.iter().for_each(|v| check_users(v, truth, checked)),
        Value::Object(fields) => {
            if let Some(id) = fields.get("id").and_then(Value::as_str) {
                let (following, followers, is_following, follows_viewer, blocked) = truth[id];
                let expected = [
                    ("followingCount", json!(following)),
                    ("followersCount", json!(followers)),
                    ("viewerIsFollowing", json!(is_following)),
                    ("isFollowingViewer", json!(follows_viewer)),
                    ("viewerHasBlocked", json!(blocked)),
                ];
                for (name, want) in expected {
                    if let Some(got) = fields.get(name) {
                        assert_eq!(got, &want, "{name} of user {id}");
                    }
                }
                *checked += 1;
            }
            fields.values().for_each(|v| check_users(v, truth, checked));
        }
        _ => {}
    }
}

//! SPEC §6 connections: keyset pages, newest first with ties by id, stable while follows happen
//! between pages, and argument checks.

use std::collections::HashSet;

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{error_code, Actor, TestApp};

const PAGE: &str = "query($first: Int, $after: String) {
    following(first: $first, after: $after) {
        totalCount
        edges { cursor followedAt node { id } }
        pageInfo { hasNextPage endCursor hasPreviousPage startCursor }
    }
}";

/// Walks the viewer's followings `first` at a time; returns the ids in the order seen.
async fn walk(app: &TestApp, viewer: &Actor, first: i64) -> Vec<i64> {
    let mut seen = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let body = app.graphql(Some(viewer), PAGE, json!({ "first": first, "after": after })).await;
        assert_eq!(body["errors"], json!(null), "{body}");
        let connection = &body["data"]["following"];
        let edges = connection["edges"].as_array().unwrap();
        assert!(edges.len() as i64 <= first);
        seen.extend(
            edges.iter().map(|e| e["node"]["id"].as_str().unwrap().parse::<i64>().unwrap()),
        );
        let info = &connection["pageInfo"];
        assert_eq!(info["hasPreviousPage"], json!(after.is_some()));
        if let Some(last) = edges.last() {
            assert_eq!(info["endCursor"], last["cursor"]);
            assert_eq!(info["startCursor"], edges[0]["cursor"]);
        }
        if info["hasNextPage"] != json!(true) {
            return seen;
        }
        after = Some(info["endCursor"].as_str().unwrap().to_owned());
    }
}

/// Inserts follow rows that all carry the same time, as a legacy bulk import would.
async fn insert_tied_follows(app: &TestApp, user: i64, targets: &[i64]) {
    let at = chrono::DateTime::from_timestamp(1_600_000_000, 0).unwrap();
    for &target in targets {
        app.database.insert_follow(user, target, at).await;
    }
}

async fn follow_all(app: &TestApp, viewer: &Actor, targets: &[Actor]) {
    for chunk in targets.chunks(25) {
        join_all(chunk.iter().map(|t| app.rest_follow(viewer, json!(t.id)))).await;
    }
}

/// The order the database promises: newest first, ties by id.
async fn expected_order(app: &TestApp, user: i64) -> Vec<i64> {
    let mut list = app.database_list(user, true).await;
    list.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    list.into_iter().map(|(id, _)| id).collect()
}

backend_suite!(
    paging_250_followings_seven_at_a_time_returns_each_once_in_order,
    paging_while_follows_change_never_repeats_or_skips_stable_entries,
    page_arguments_are_checked,
    followers_pages_and_user_connections_agree_with_the_rows
);

async fn paging_250_followings_seven_at_a_time_returns_each_once_in_order(app: &TestApp) {
    let users = app.actors(251).await;
    let (viewer, targets) = users.split_first().unwrap();
    let tied: Vec<i64> = targets[..50].iter().map(|t| t.id).rev().collect();
    insert_tied_follows(app, viewer.id, &tied).await;
    follow_all(app, viewer, &targets[50..]).await;

    let seen = walk(app, viewer, 7).await;
    assert_eq!(seen.len(), 250);
    assert_eq!(seen, expected_order(app, viewer.id).await, "newest first, ties by id");
    // Twice: the second walk is served from the cache when there is one.
    assert_eq!(walk(app, viewer, 7).await, seen);
    let total = app.graphql(Some(viewer), PAGE, json!({ "first": 0 })).await;
    assert_eq!(total["data"]["following"]["totalCount"], json!(250), "{total}");
    assert_eq!(total["data"]["following"]["pageInfo"]["hasNextPage"], json!(true));
}

async fn paging_while_follows_change_never_repeats_or_skips_stable_entries(app: &TestApp) {
    let users = app.actors(121).await;
    let (viewer, rest) = users.split_first().unwrap();
    let (stable, churn) = rest.split_at(80);
    follow_all(app, viewer, stable).await;
    let walker = async {
        let mut walks = Vec::new();
        for _ in 0..3 {
            walks.push(walk(app, viewer, 7).await);
        }
        walks
    };
    let churner = async {
        for round in 0..6 {
            for (i, target) in churn.iter().enumerate() {
                if (i + round) % 2 == 0 {
                    app.rest_follow(viewer, json!(target.id)).await;
                } else {
                    app.rest_unfollow(viewer, &target.id.to_string()).await;
                }
            }
        }
    };
    let (walks, ()) = tokio::join!(walker, churner);
    for seen in walks {
        let unique: HashSet<i64> = seen.iter().copied().collect();
        assert_eq!(unique.len(), seen.len(), "no entry twice in one walk");
        for s in stable {
            assert!(unique.contains(&s.id), "stable entry {} skipped", s.id);
        }
    }
}

async fn page_arguments_are_checked(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    for (variables, what) in [
        (json!({ "first": 101 }), "first over 100"),
        (json!({ "first": -1 }), "negative first"),
        (json!({ "after": "not-a-cursor" }), "garbage cursor"),
        (json!({ "after": "Zmcx" }), "cursor of another shape"),
    ] {
        let body = app.graphql(Some(&a), PAGE, variables).await;
        assert_eq!(error_code(&body), Some("BAD_USER_INPUT"), "{what}: {body}");
    }
    let anonymous = app.graphql(None, PAGE, json!({})).await;
    assert_eq!(error_code(&anonymous), Some("UNAUTHENTICATED"));
    let default = app.graphql(Some(&a), PAGE, json!({})).await;
    assert_eq!(default["data"]["following"]["edges"], json!([]), "{default}");
}

async fn followers_pages_and_user_connections_agree_with_the_rows(app: &TestApp) {
    let users = app.actors(26).await;
    let (star, fans) = users.split_first().unwrap();
    for fan in fans {
        app.rest_follow(fan, json!(star.id)).await;
    }
    let query = "query($id: ID!) { user(id: $id) {
        followers(first: 100) { totalCount nodes { id } edges { followedAt node { id } } }
        following { totalCount }
    } }";
    let body = app.graphql(None, query, json!({ "id": star.id })).await;
    let followers = &body["data"]["user"]["followers"];
    assert_eq!(followers["totalCount"], json!(25), "{body}");
    let mut expected = app.database_list(star.id, false).await;
    expected.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let ids: Vec<Value> = expected.iter().map(|(id, _)| json!(id.to_string())).collect();
    let nodes: Vec<Value> =
        followers["nodes"].as_array().unwrap().iter().map(|n| n["id"].clone()).collect();
    assert_eq!(nodes, ids);
    let first_at = followers["edges"][0]["followedAt"].as_str().unwrap();
    let parsed = chrono::DateTime::parse_from_rfc3339(first_at).unwrap();
    assert_eq!(parsed.timestamp_micros(), expected[0].1, "followedAt is the row's update_time");
    assert_eq!(body["data"]["user"]["following"]["totalCount"], json!(0));
}

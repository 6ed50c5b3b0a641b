//! SPEC §6: the round trips of a query do not grow with the number of users in it.

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

//! SPEC §13: an instance that crashes mid-write leaves no cache entry stale. A binary writing
//! through a proxy to Redis loses Redis mid-burst (the proxy cuts it) and is then killed with
//! SIGKILL: groups that had marked their users commit and cannot update the cache, groups that
//! came after cannot mark them and list them for repair in the database, and the process that
//! knew is gone. Another instance, on the same database and Redis, then answers every read with
//! the database's truth: the dead writer's marks are found once their lifetime is over, the
//! listings by its repair task.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{Actor, Binary, PrivateRedis, Setup, TestApp};
use crate::outage::until_repaired;
use crate::proxy::ChaosProxy;

setup_suite!([sqlite, postgres, mysql] a_sigkill_mid_write_leaves_no_stale_entry);

const USERS: usize = 24;

/// A user's counts and lists as the app answers them: `(following count, followers count,
/// following ids, follower ids)`.
pub(crate) async fn as_served(app: &TestApp, user: i64) -> (i64, i64, Vec<i64>, Vec<i64>) {
    let query = "query($id: ID!) { user(id: $id) { followingCount followersCount
        following(first: 100) { nodes { id } } followers(first: 100) { nodes { id } } } }";
    let body = app.graphql(None, query, json!({ "id": user.to_string() })).await;
    let u = &body["data"]["user"];
    let ids = |list: &Value| -> Vec<i64> {
        let nodes = list["nodes"].as_array().expect("nodes");
        let mut ids: Vec<i64> =
            nodes.iter().map(|n| n["id"].as_str().unwrap().parse().unwrap()).collect();
        ids.sort_unstable();
        ids
    };
    let count = |field: &str| u[field].as_i64().expect("a count");
    (count("followingCount"), count("followersCount"), ids(&u["following"]), ids(&u["followers"]))
}

/// The same from the rows.
pub(crate) async fn truth(app: &TestApp, user: i64) -> (i64, i64, Vec<i64>, Vec<i64>) {
    let ids = |list: Vec<(i64, chrono::DateTime<chrono::Utc>)>| {
        let mut ids: Vec<i64> = list.into_iter().map(|(id, _)| id).collect();
        ids.sort_unstable();
        ids
    };
    let following = ids(app.database.list(user, true).await);
    let followers = ids(app.database.list(user, false).await);
    (following.len() as i64, followers.len() as i64, following, followers)
}

async fn a_sigkill_mid_write_leaves_no_stale_entry(setup: Setup) {
    let redis = PrivateRedis::start().await;
    let Some(app) = setup.app().redis_url(redis.url()).spawn().await else { return };
    let users = Arc::new(app.actors(USERS).await);
    for user in users.iter() {
        as_served(&app, user.id).await; // every list and count is cached
    }
    let proxy = ChaosProxy::start(format!("127.0.0.1:{}", redis.port).parse().unwrap()).await;
    let through_proxy = format!("redis://{}", proxy.addr);
    let server = Binary::start_with(&app, &[("REDIS_URL", &through_proxy)]).await;
    let base = server.url.clone();
    let stop = Arc::new(AtomicBool::new(false));
    let clients = (0..16).map(|n| {
        let (stop, users, url) = (stop.clone(), users.clone(), base.clone());
        async move {
            let client = reqwest::Client::new();
            let viewer: &Actor = &users[n % USERS];
            let mut next = n;
            while !stop.load(Ordering::Acquire) {
                next = (next + 7) % USERS;
                let target = users[next].id;
                // A follow and its undoing: every request changes a row (some are cut by the kill).
                let follow = format!("{url}/app/v1_0/user/followings");
                let sent = client
                    .post(follow)
                    .bearer_auth(&viewer.token)
                    .json(&json!({ "target": target }));
                let _ = sent.send().await;
                let unfollow = format!("{url}/app/v1_0/user/followings/{target}");
                let _ = client.delete(unfollow).bearer_auth(&viewer.token).send().await;
            }
        }
    });
    let kill = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        proxy.cut(); // mid-burst: cache updates fail, later marks fail
        tokio::time::sleep(Duration::from_millis(300)).await;
        drop(server); // SIGKILL: what it knew of either is lost with it
        stop.store(true, Ordering::Release);
    };
    tokio::join!(join_all(clients), kill);
    // Past the dead writer's marks' lifetime, every answer is the database's; reads that meet
    // the marks have their users forgotten, and then the cache serves the truth again.
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    for user in users.iter() {
        assert_eq!(as_served(&app, user.id).await, truth(&app, user.id).await, "user {}", user.id);
    }
    find_dead_marks(&app, &users).await;
    for user in users.iter() {
        assert_eq!(as_served(&app, user.id).await, truth(&app, user.id).await, "user {}", user.id);
    }
    app.teardown().await;
}

/// Reads each user once on `app` while it has nothing to repair, then lets it repair: afterwards
/// no dead writer's entry is left in Redis. A dead writer's mark is found only by a read that
/// consults the cache, and an instance with users to repair reads around the cache, so a pass
/// of reads that met one dead mark may have missed the others.
pub(crate) async fn find_dead_marks(app: &TestApp, users: &[Actor]) {
    for user in users {
        until_repaired(app).await;
        as_served(app, user.id).await;
    }
    until_repaired(app).await;
}

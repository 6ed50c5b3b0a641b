//! Redis faults: a follow or a read never fails because Redis is paused, gone or never there;
//! once it answers again, no stale entry survives.

use std::time::{Duration, Instant};

use bb8_redis::redis;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::cache::read_following;
use crate::helpers::{free_port, read, Actor, PrivateRedis, Setup, TestApp};

setup_suite!(
    [sqlite, postgres, mysql]
    a_redis_outage_fails_nothing_and_leaves_nothing_stale,
    a_closed_redis_port_never_fails_a_request,
    a_twenty_second_burst_with_redis_down_for_five_fails_nothing,
);

async fn readiness(app: &TestApp) -> serde_json::Value {
    readiness_at(app, &app.url("")).await
}

/// `/readyz` of the instance at `base` (`http://host:port`).
async fn readiness_at(app: &TestApp, base: &str) -> serde_json::Value {
    let ready = app.client.get(format!("{base}/readyz")).send().await.unwrap();
    let (status, body) = read(ready).await;
    assert_eq!(status, StatusCode::OK, "a Redis outage never makes the service unready: {body}");
    body
}

/// Waits until the app has repaired what it could not write, or fails after 15 s (healing is
/// the property, not its speed: on a loaded machine a cluster's replicas may take seconds to
/// confirm the repair's writes within their `WAIT`).
pub(crate) async fn until_repaired(app: &TestApp) {
    until_repaired_at(app, &app.url("")).await;
}

/// The same for the instance at `base` (`http://host:port`). Each instance keeps its own dirty
/// list and answers for it alone, so behind a balancer every instance must be asked: asking the
/// balancer hears whichever instance it picks.
pub(crate) async fn until_repaired_at(app: &TestApp, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let body = readiness_at(app, base).await;
        if body["cache"]["state"] == json!("ok") && body["cache"]["awaiting_repair"] == json!(0) {
            return;
        }
        assert!(Instant::now() < deadline, "cache never repaired: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn a_redis_outage_fails_nothing_and_leaves_nothing_stale(setup: Setup) {
    let mut redis = PrivateRedis::start().await;
    let Some(mut app) = TestApp::on(setup.backend).redis_url(redis.url()).spawn().await else {
        return;
    };
    let [a, b, c, d, e] = <[_; 5]>::try_from(app.actors(5).await).unwrap();
    app.rest_follow(&a, json!(b.id)).await;
    read_following(&app, &a).await;
    let key = format!("user:{}:following", a.id);
    assert!(app.cached_list(&key).await.is_some(), "cached before the outage");

    // Redis keeps its data but answers nobody for three seconds.
    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(3000)
        .arg("ALL")
        .query_async(&mut app.redis())
        .await
        .unwrap();
    let paused_at = Instant::now();
    let started = Instant::now();
    assert_eq!(app.rest_follow(&a, json!(c.id)).await.0, StatusCode::CREATED);
    let (list, _) = read_following(&app, &a).await;
    assert!(list.iter().any(|(id, _)| *id == c.id), "reads come from the database");
    assert!(started.elapsed() < Duration::from_millis(2500), "bounded by the Redis timeout");
    assert_eq!(readiness(&app).await["cache"]["state"], json!("unavailable"));

    tokio::time::sleep(Duration::from_millis(3200).saturating_sub(paused_at.elapsed())).await;
    until_repaired(&app).await;
    app.assert_cache_matches(&[a.id, b.id, c.id]).await;
    let (list, _) = read_following(&app, &a).await;
    assert_eq!(list.len(), 2, "b and c");
    assert_eq!(app.cached_list(&key).await, Some(app.database_list(a.id, true).await));

    // Redis dies and comes back empty.
    redis.stop();
    assert_eq!(app.rest_follow(&a, json!(d.id)).await.0, StatusCode::CREATED);
    let block = "mutation($t: ID!) { blockUser(target: $t) { target } }";
    assert_eq!(app.graphql(Some(&a), block, json!({ "t": e.id })).await["errors"], json!(null));
    let (list, _) = read_following(&app, &a).await;
    assert_eq!(list.len(), 3);
    redis.restart().await;
    app.reconnect_redis().await;
    until_repaired(&app).await;
    read_following(&app, &a).await;
    let (_, trips) = read_following(&app, &a).await;
    assert_eq!(trips, (0, 1), "filled again and served from Redis (profiles from memory)");
    app.assert_cache_matches(&[a.id, b.id, c.id, d.id, e.id]).await;
    app.teardown().await;
}

async fn a_closed_redis_port_never_fails_a_request(setup: Setup) {
    let url = format!("redis://127.0.0.1:{}", free_port());
    let Some(app) = TestApp::on(setup.backend).redis_url(url).spawn().await else { return };
    let [a, b, c] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    assert_eq!(app.rest_follow(&a, json!(b.id)).await.0, StatusCode::CREATED);
    assert_eq!(app.rest_follow(&c, json!(a.id)).await.0, StatusCode::CREATED);
    assert_eq!(app.rest_unfollow(&a, &b.id.to_string()).await.0, StatusCode::OK);
    assert_eq!(app.rest_follow(&a, json!(b.id)).await.0, StatusCode::CREATED);
    let (list, trips) = read_following(&app, &a).await;
    assert_eq!(list.iter().map(|(id, _)| *id).collect::<Vec<_>>(), vec![b.id]);
    assert!(trips.0 >= 1);
    assert_eq!(app.counts(a.id).await, (1, 1));
    let legacy = app.client.get(app.url("/app/v1_0/user/followers")).bearer_auth(&a.token);
    let (status, body) = read(legacy.send().await.unwrap()).await;
    assert_eq!((status, body["data"]["total_count"].clone()), (StatusCode::OK, json!(1)));
    assert_eq!(readiness(&app).await["cache"]["state"], json!("unavailable"));
    app.teardown().await;
}

/// 32 clients follow, unfollow and read for 20 s; Redis dies for 5 s in the middle. No request
/// may fail, and at the end the database and every cached set agree.
async fn a_twenty_second_burst_with_redis_down_for_five_fails_nothing(setup: Setup) {
    let mut redis = PrivateRedis::start().await;
    let Some(mut app) = TestApp::on(setup.backend).redis_url(redis.url()).spawn().await else {
        return;
    };
    let users = app.actors(12).await;
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let chaos = async {
        tokio::time::sleep(Duration::from_millis(7500)).await;
        redis.stop();
        tokio::time::sleep(Duration::from_secs(5)).await;
        redis.restart().await;
    };
    let ((), ()) = tokio::join!(burst(&app, &users, Duration::from_secs(20)), chaos);
    app.reconnect_redis().await;
    until_repaired(&app).await;
    app.assert_cache_matches(&ids).await;
    app.teardown().await;
}

/// 32 clients follow, unfollow and read among `users` for `length`, through both transports;
/// panics unless the burst was real and no request failed.
pub(crate) async fn burst(app: &TestApp, users: &[Actor], length: Duration) {
    let started = Instant::now();
    let end = started + length;
    let clients = (0..32).map(|n| async move {
        let (mut failures, mut sent) = (Vec::new(), 0usize);
        let mut step = n;
        while Instant::now() < end {
            step += 7;
            let actor = &users[step % users.len()];
            let target = &users[(step / 3 + 1) % users.len()];
            let status = match step % 4 {
                0 => app.rest_follow(actor, json!(target.id)).await.0,
                1 => app.rest_unfollow(actor, &target.id.to_string()).await.0,
                2 => {
                    let list = app
                        .client
                        .get(app.url("/app/v1_0/user/followers"))
                        .bearer_auth(&actor.token);
                    list.send().await.unwrap().status()
                }
                _ => {
                    let query = "{ following(first: 5) { totalCount nodes { id } } }";
                    let body = app.graphql(Some(actor), query, json!({})).await;
                    if body["errors"].is_null() {
                        StatusCode::OK
                    } else {
                        StatusCode::INTERNAL_SERVER_ERROR
                    }
                }
            };
            sent += 1;
            if status.is_server_error() {
                failures.push((started.elapsed(), status));
            }
        }
        (failures, sent)
    });
    let results = join_all(clients).await;
    let sent: usize = results.iter().map(|(_, sent)| sent).sum();
    let failures: Vec<_> = results.into_iter().flat_map(|(failed, _)| failed).collect();
    assert!(failures.is_empty(), "requests failed: {failures:?}");
    assert!(sent > 1000, "a real burst: {sent} requests");
}

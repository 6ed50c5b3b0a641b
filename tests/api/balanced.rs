//! SPEC §13: three instances behind HAProxy, as the legacy deployment runs them, on one database
//! and one cache. Nothing is multiplied by the number of instances (one row for many identical
//! follows, one rate limit per viewer), and nothing goes stale when Redis pauses under one of
//! them or one of them is killed mid-write.

use std::time::Duration;

use bb8_redis::redis;
use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::cache::read_following;
use crate::crash::{as_served, find_dead_marks, truth};
use crate::helpers::{Binary, Haproxy, Instance, PrivateRedis, Setup, TestApp};
use crate::outage::until_repaired_at;

setup_suite!(
    [postgres_redis, postgres_cluster]
    thirty_two_identical_follows_through_the_balancer_make_one_row,
    the_rate_limit_holds_across_three_balanced_instances,
    an_instance_killed_mid_write_behind_the_balancer_fails_nothing_and_leaves_nothing_stale,
);
setup_suite!(
    [postgres, mysql]
    a_redis_pause_while_one_instance_writes_leaves_the_others_reading_the_truth,
);

/// The app and two more instances on its database and cache, all tuned alike, behind HAProxy;
/// the app's requests then go through the balancer.
async fn balanced(
    setup: Setup,
    tune: fn(&mut followgraph::cli::Settings),
) -> Option<(TestApp, [Instance; 2], Haproxy)> {
    let mut app = setup.app().tune(tune).spawn().await?;
    let others = [app.another_instance(tune).await, app.another_instance(tune).await];
    let addrs = [app.addr, others[0].addr, others[1].addr].map(|a| a.to_string());
    let proxy = Haproxy::start(&addrs).await;
    app.addr = proxy.addr;
    Some((app, others, proxy))
}

fn untuned(_: &mut followgraph::cli::Settings) {}

async fn thirty_two_identical_follows_through_the_balancer_make_one_row(setup: Setup) {
    let Some((app, _others, _proxy)) = balanced(setup, untuned).await else { return };
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    let statuses = join_all((0..32).map(|_| app.rest_follow(&a, json!(b.id)))).await;
    assert!(statuses.iter().all(|(s, _)| *s == StatusCode::CREATED), "{statuses:?}");
    assert_eq!(app.database.relation_rows(a.id, b.id).await.len(), 1, "one row");
    for _ in 0..3 {
        assert_eq!(app.counts(b.id).await, (0, 1), "every instance counts one follower");
    }
    app.teardown().await;
}

async fn the_rate_limit_holds_across_three_balanced_instances(setup: Setup) {
    let Some((app, _others, _proxy)) = balanced(setup, |s| s.rate_limit_per_minute = 9).await
    else {
        return;
    };
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    let mut statuses = Vec::new();
    for _ in 0..15 {
        let request = app.client.post(app.url("/graphql")).bearer_auth(&a.token);
        let response = request.json(&json!({ "query": "{ viewer { id } }" })).send().await;
        statuses.push(response.expect("graphql").status());
    }
    let admitted = statuses.iter().filter(|s| **s == StatusCode::OK).count();
    let refused = statuses.iter().filter(|s| **s == StatusCode::TOO_MANY_REQUESTS).count();
    assert_eq!((admitted, refused), (9, 6), "9 a minute in all, not 9 per instance: {statuses:?}");
    app.teardown().await;
}

/// One instance writes while Redis answers nobody (its marks fail: it lists the users for repair
/// in the database) and stops before Redis is back, so only the shared list can tell the others;
/// they read through the balancer during the pause and after it, and never see the list as it
/// was before the write.
async fn a_redis_pause_while_one_instance_writes_leaves_the_others_reading_the_truth(setup: Setup) {
    let redis = PrivateRedis::start().await;
    let Some(mut app) = TestApp::on(setup.backend).redis_url(redis.url()).spawn().await else {
        return;
    };
    let reader = app.another_instance(|_| {}).await;
    let writer = app.another_instance(|_| {}).await;
    let [a, b, c] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    app.rest_follow(&a, json!(b.id)).await;
    let readers = [app.addr, reader.addr].map(|addr| format!("http://{addr}"));
    let proxy = Haproxy::start(&[app.addr.to_string(), reader.addr.to_string()]).await;
    app.addr = proxy.addr;
    for _ in 0..2 {
        read_following(&app, &a).await; // each reader fills or hits a's cached list
    }
    assert!(app.cached_list(&format!("user:{}:following", a.id)).await.is_some());

    let () = redis::cmd("CLIENT")
        .arg("PAUSE")
        .arg(2000)
        .arg("ALL")
        .query_async(&mut app.redis())
        .await
        .unwrap();
    app.addr = writer.addr;
    assert_eq!(app.rest_follow(&a, json!(c.id)).await.0, StatusCode::CREATED);
    drop(writer); // what it knew in process goes with it
    app.addr = proxy.addr;
    let expected = vec![b.id, c.id];
    let ids = |list: Vec<(i64, i64)>| {
        let mut ids: Vec<i64> = list.into_iter().map(|(id, _)| id).collect();
        ids.sort_unstable();
        ids
    };
    for _ in 0..6 {
        let (list, _) = read_following(&app, &a).await;
        assert_eq!(ids(list), expected, "during the pause, from the database");
    }
    tokio::time::sleep(Duration::from_millis(2200)).await; // the pause is over
    for _ in 0..6 {
        let (list, _) = read_following(&app, &a).await;
        assert_eq!(ids(list), expected, "after it, never the list from before the write");
    }
    for base in &readers {
        until_repaired_at(&app, base).await;
    }
    app.assert_cache_matches(&[a.id, b.id, c.id]).await;
    app.teardown().await;
}

/// Three binaries behind HAProxy; 16 clients follow and unfollow through it, and one binary is
/// killed with SIGKILL mid-burst. HAProxy retries what the dead one did not answer (a follow and
/// an unfollow are idempotent), so no client sees a failure; afterwards every answer is the
/// database's.
async fn an_instance_killed_mid_write_behind_the_balancer_fails_nothing_and_leaves_nothing_stale(
    setup: Setup,
) {
    let Some(mut app) = setup.app().spawn().await else { return };
    let users = app.actors(16).await;
    for user in &users {
        as_served(&app, user.id).await; // every list and count is cached
    }
    let mut binaries = Vec::new();
    for _ in 0..3 {
        binaries.push(Binary::start(&app).await);
    }
    let addrs: Vec<String> =
        binaries.iter().map(|b| b.url.trim_start_matches("http://").to_owned()).collect();
    let proxy = Haproxy::start(&addrs).await;
    app.addr = proxy.addr;
    let end = tokio::time::Instant::now() + Duration::from_secs(4);
    let clients = (0..16).map(|n| {
        let (app, users) = (&app, &users);
        async move {
            let mut failures = Vec::new();
            let mut next = n;
            while tokio::time::Instant::now() < end {
                next = (next + 5) % users.len();
                let (viewer, target) = (&users[n], users[next].id);
                if viewer.id == target {
                    continue;
                }
                let (followed, _) = app.rest_follow(viewer, json!(target)).await;
                let (unfollowed, _) = app.rest_unfollow(viewer, &target.to_string()).await;
                failures.extend([followed, unfollowed].into_iter().filter(|s| s.is_server_error()));
            }
            failures
        }
    });
    let kill = async {
        tokio::time::sleep(Duration::from_millis(1500)).await;
        drop(binaries.remove(0)); // SIGKILL
    };
    let (failures, ()) = tokio::join!(join_all(clients), kill);
    let failures: Vec<StatusCode> = failures.into_iter().flatten().collect();
    assert!(failures.is_empty(), "no client sees the instance go: {failures:?}");
    // Past the dead instance's marks' lifetime, every answer is the database's.
    tokio::time::sleep(Duration::from_millis(5_500)).await;
    for user in &users {
        assert_eq!(as_served(&app, user.id).await, truth(&app, user.id).await, "user {}", user.id);
    }
    // The reads above may have missed some of the dead writer's marks (`find_dead_marks`); one
    // instance finds them all, and once every instance has repaired, nothing stale is left (the
    // teardown compares every key with the database).
    app.addr = binaries[0].url.trim_start_matches("http://").parse().expect("an address");
    find_dead_marks(&app, &users).await;
    for binary in &binaries {
        until_repaired_at(&app, &binary.url).await;
    }
    app.teardown().await;
}

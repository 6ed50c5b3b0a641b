//! SPEC §13 on the legacy Redis topology, started by the tests: the cache's chaos burst on a
//! Redis Cluster whose master is killed and comes back, and the counts on a Sentinel-managed
//! Redis of their own that fails over. (The whole behaviour suite also runs on a cluster with
//! the counts under Sentinel: the `postgres_cluster` set-up.)

use std::time::Duration;

use bb8_redis::redis::AsyncCommands;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Backend, RedisCluster, Sentineled, TestApp};
use crate::outage::{burst, until_repaired};

/// 32 clients for 20 s on a 3-master, 3-replica cluster; 7.5 s in, the master holding the
/// busiest user's list is killed with SIGKILL (its replica takes over a second or two later),
/// and 5 s after the takeover it comes back as a replica. No request fails; afterwards every cached
/// zset and count equals the database (cache writes wait for a replica, so the failover loses
/// none of them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_master_killed_mid_burst_on_a_cluster_fails_nothing_and_leaves_nothing_stale() {
    let mut cluster = tokio::task::block_in_place(RedisCluster::start);
    let nodes = cluster.nodes();
    let Some(mut app) = TestApp::on(Backend::Postgres).redis_cluster(nodes).spawn().await else {
        return;
    };
    let users = app.actors(12).await;
    let ids: Vec<i64> = users.iter().map(|u| u.id).collect();
    let key = format!("user:{}:following", ids[0]);
    let victim = cluster.master_of(&key);
    let chaos = async {
        tokio::time::sleep(Duration::from_millis(7500)).await;
        cluster.kill(victim);
        // Off the burst's task, which the waits would otherwise stall: the replica takes over,
        // the old master stays down 5 s more, and the restart waits for the cluster to be whole.
        let cluster = tokio::task::spawn_blocking(move || {
            cluster.wait_for_takeover(victim, &key);
            std::thread::sleep(Duration::from_secs(5));
            cluster.restart(victim);
            cluster
        });
        cluster.await.expect("restarted")
    };
    let ((), _cluster) = tokio::join!(burst(&app, &users, Duration::from_secs(20)), chaos);
    app.reconnect_redis().await;
    until_repaired(&app).await;
    for user in &users {
        app.counts(user.id).await; // fills what the repair forgot
    }
    app.assert_cache_matches(&ids).await;
    let mut cached = 0;
    for &id in &ids {
        cached += usize::from(app.cached_list(&format!("user:{id}:fans")).await.is_some());
    }
    assert!(cached > 0, "the cache was in use, not bypassed");
    app.teardown().await;
}

/// The counts on a master of their own that Sentinel watches (`REDIS_COUNTS_URL=
/// redis+sentinel://…`), the lists on the shared Redis. The master dies: writes and reads go on
/// from the database; once the old master is back (as a replica), the counts heal, on the new
/// master.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_counts_on_their_own_sentinel_managed_redis_survive_its_failover() {
    let mut counts = tokio::task::block_in_place(Sentineled::start);
    let builder = TestApp::on(Backend::Postgres).cached().counts_url(counts.url());
    let Some(mut app) = builder.spawn().await else { return };
    let [a, b, c, d] = <[_; 4]>::try_from(app.actors(4).await).unwrap();
    app.rest_follow(&a, json!(b.id)).await;
    app.rest_follow(&a, json!(c.id)).await;
    assert_eq!(app.counts(a.id).await, (2, 0));
    let on_counts: Option<f64> =
        app.counts_redis().zscore("count:user:followings", a.id).await.unwrap();
    assert_eq!(on_counts, Some(2.0), "filled on the counts' own Redis");
    let on_main: Option<f64> = app.redis().zscore("count:user:followings", a.id).await.unwrap();
    assert_eq!(on_main, None, "and not beside the lists");

    let old_master = counts.master_port();
    tokio::task::block_in_place(|| counts.kill_master());
    assert_ne!(counts.master_port(), old_master);
    assert_eq!(app.rest_follow(&a, json!(d.id)).await.0, StatusCode::CREATED);
    assert_eq!(app.rest_unfollow(&a, &b.id.to_string()).await.0, StatusCode::OK);
    assert_eq!(app.counts(a.id).await, (2, 0), "c and d, from the database");

    tokio::task::block_in_place(|| counts.restart_old_master());
    until_repaired(&app).await;
    app.reconnect_redis().await;
    assert_eq!(app.counts(a.id).await, (2, 0));
    let on_counts: Option<f64> =
        app.counts_redis().zscore("count:user:followings", a.id).await.unwrap();
    assert_eq!(on_counts, Some(2.0), "filled again, on the new master");
    app.assert_cache_matches(&[a.id, b.id, c.id, d.id]).await;
    app.teardown().await;
}

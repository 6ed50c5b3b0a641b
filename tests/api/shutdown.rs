//! Graceful shutdown of the real binary, on every backend: SIGTERM during a burst of follows stops
//! it cleanly, and every follow it acknowledged is in the database.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{Binary, Setup};

setup_suite!([sqlite, postgres, mysql] sigterm_during_a_burst_loses_no_acknowledged_follow);

const USERS: usize = 40;

async fn sigterm_during_a_burst_loses_no_acknowledged_follow(setup: Setup) {
    let Some(app) = setup.app().spawn().await else { return };
    let users = Arc::new(app.actors(USERS).await);
    let server = Binary::start_with(&app, &[("SHUTDOWN_DRAIN_MS", "2000")]).await;
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();

    // 32 clients follow until the signal, while up to 32 requests are in flight; each must be
    // answered. The server drains for 2 s (unready, still serving), as a load balancer needs; a
    // shorter drain could end before a loaded machine delivers the last requests or the probe.
    let stop = Arc::new(AtomicBool::new(false));
    let clients = (0..32).map(|n| {
        let (client, stop, users, url) =
            (client.clone(), stop.clone(), users.clone(), server.url.clone());
        async move {
            let viewer = &users[n % USERS];
            let mut acknowledged = Vec::new();
            let mut next = 0;
            while !stop.load(Ordering::Acquire) {
                next = (next + 1) % USERS;
                let target = users[next].id;
                if target == viewer.id {
                    continue;
                }
                let sent = client
                    .post(format!("{url}/app/v1_0/user/followings"))
                    .bearer_auth(&viewer.token)
                    .json(&json!({ "target": target }))
                    .send()
                    .await;
                let response = match sent {
                    Ok(response) => response,
                    Err(err) => panic!("a request was not answered: {err:?}"),
                };
                assert_eq!(response.status(), StatusCode::CREATED);
                acknowledged.push((viewer.id, target));
            }
            acknowledged
        }
    });
    let signal = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        stop.store(true, Ordering::Release);
        server.terminate();
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ready = client.get(format!("{}/readyz", server.url)).send().await.unwrap();
        assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE, "draining: unready");
    };
    let (acknowledged, ()) = tokio::join!(join_all(clients), signal);

    assert!(server.exited_cleanly().await, "clean exit after SIGTERM");
    let acknowledged: Vec<(i64, i64)> = acknowledged.into_iter().flatten().collect();
    assert!(acknowledged.len() > 32, "the burst did run: {}", acknowledged.len());
    for (viewer, target) in acknowledged {
        let row = app.relation(viewer, target).await.map(|r| r.relation);
        assert_eq!(row, Some(1), "acknowledged follow {viewer} → {target} is in the database");
    }
    app.teardown().await;
}

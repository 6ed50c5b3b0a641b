//! Graceful shutdown of the real binary: SIGTERM during a burst of follows stops it cleanly, and
//! every follow it acknowledged is in the database.

use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;
use sqlx::sqlite::SqlitePoolOptions;

use crate::helpers::{free_port, token, SECRET};

const USERS: i64 = 40;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_during_a_burst_loses_no_acknowledged_follow() {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}", dir.path().join("shutdown.db").display());
    let binary = env!("CARGO_BIN_EXE_followgraph");
    let migrated = Command::new(binary)
        .args(["migrate"])
        .env("DATABASE_URL", &url)
        .env("JWT_SECRET", SECRET)
        .status();
    assert!(migrated.unwrap().success());
    let db = SqlitePoolOptions::new().connect(&url).await.unwrap();
    for id in 1..=USERS {
        sqlx::query("INSERT INTO user_basic (user_id, user_name) VALUES ($1, $2)")
            .bind(id)
            .bind(format!("u{id}"))
            .execute(&db)
            .await
            .unwrap();
    }

    let addr = format!("127.0.0.1:{}", free_port());
    let mut server = Command::new(binary)
        .args(["serve"])
        .env("DATABASE_URL", &url)
        .env("JWT_SECRET", SECRET)
        .env("LISTEN_ADDR", &addr)
        .env("SHUTDOWN_DRAIN_MS", "500")
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let client = reqwest::Client::builder().pool_max_idle_per_host(0).build().unwrap();
    let health = format!("http://{addr}/healthz");
    let deadline = Instant::now() + Duration::from_secs(10);
    while client.get(&health).send().await.is_err() {
        assert!(Instant::now() < deadline, "the server never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // 32 clients follow until the signal, while up to 32 requests are in flight; each must be
    // answered. The server drains for 500 ms (unready, still serving), as a load balancer needs.
    let stop = Arc::new(AtomicBool::new(false));
    let clients = (0..32).map(|n| {
        let (client, stop, addr) = (client.clone(), stop.clone(), addr.clone());
        async move {
            let viewer = n % USERS + 1;
            let bearer = token(json!({ "user_id": viewer, "refresh": false }), 600);
            let mut acknowledged = Vec::new();
            let mut target = 0;
            while !stop.load(Ordering::Acquire) {
                target = target % USERS + 1;
                if target == viewer {
                    continue;
                }
                let sent = client
                    .post(format!("http://{addr}/app/v1_0/user/followings"))
                    .bearer_auth(&bearer)
                    .json(&json!({ "target": target }))
                    .send()
                    .await;
                let response = match sent {
                    Ok(response) => response,
                    Err(err) => panic!("a request was not answered: {err:?}"),
                };
                assert_eq!(response.status(), StatusCode::CREATED);
                acknowledged.push((viewer, target));
            }
            acknowledged
        }
    });
    let signal = async {
        tokio::time::sleep(Duration::from_millis(800)).await;
        stop.store(true, Ordering::Release);
        let killed =
            Command::new("kill").args(["-TERM", &server.id().to_string()]).status().unwrap();
        assert!(killed.success());
        tokio::time::sleep(Duration::from_millis(100)).await;
        let ready = client.get(format!("http://{addr}/readyz")).send().await.unwrap();
        assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE, "draining: unready");
    };
    let (acknowledged, ()) = tokio::join!(join_all(clients), signal);

    let exit = tokio::task::spawn_blocking(move || server.wait()).await.unwrap().unwrap();
    assert!(exit.success(), "clean exit after SIGTERM: {exit:?}");
    let acknowledged: Vec<(i64, i64)> = acknowledged.into_iter().flatten().collect();
    assert!(acknowledged.len() > 32, "the burst did run: {}", acknowledged.len());
    for (viewer, target) in acknowledged {
        let row: Option<(i16,)> = sqlx::query_as(
            "SELECT relation FROM user_relation WHERE user_id = $1 AND target_user_id = $2",
        )
        .bind(viewer)
        .bind(target)
        .fetch_optional(&db)
        .await
        .unwrap();
        assert_eq!(row, Some((1,)), "acknowledged follow {viewer} → {target} is in the database");
    }
}

//! The database going away: requests answer SERVICE_UNAVAILABLE / 503 within the pool's acquire
//! timeout, readiness goes false, and both heal without a restart when it returns.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{error_code, read, Actor, Backend, Binary, PrivateMariadb, Setup, TestApp};
use crate::proxy::ChaosProxy;

backend_setups!(an_exhausted_pool_answers_unavailable_in_bounded_time);
setup_suite!(
    [postgres, postgres_redis, mysql, mysql_redis]
    a_database_outage_answers_unavailable_and_heals,
);
setup_suite!([mysql, mysql_redis] mariadb_stopped_and_started_again_answers_unavailable_and_heals);
setup_suite!([postgres, mysql] sessions_the_server_ends_fail_at_most_one_request);

async fn ready(app: &TestApp) -> StatusCode {
    app.client.get(app.url("/readyz")).send().await.unwrap().status()
}

/// The database's server cut off behind a proxy (a network partition, a server gone), on the
/// network backends, with and without the cache.
async fn a_database_outage_answers_unavailable_and_heals(setup: Setup) {
    let server = match setup.backend {
        Backend::Mysql => "127.0.0.1:3306",
        _ => "127.0.0.1:5432",
    };
    let proxy = ChaosProxy::start(server.parse().unwrap()).await;
    let port = proxy.addr.port();
    let through_proxy = move |s: &mut followgraph::cli::Settings| {
        let url = s.database_url.take().unwrap();
        s.database_url = Some(url.replace(server, &format!("127.0.0.1:{port}")));
    };
    let Some(app) = setup.app().tune(through_proxy).spawn().await else { return };
    let [a, b, c] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    assert_eq!(app.rest_follow(&a, json!(b.id)).await.0, StatusCode::CREATED);

    proxy.cut();
    everything_answers_unavailable(&app, &a, c.id).await;
    proxy.restore();
    heals(&app, &a, c.id).await;
    app.teardown().await;
}

/// The server ends every session of the service at once (a restart, a failover, an operator):
/// the request that meets the first broken connection may fail, but the pool then checks the
/// others before their next use instead of failing one request on each.
async fn sessions_the_server_ends_fail_at_most_one_request(setup: Setup) {
    let Some(app) = setup.app().spawn().await else { return };
    let users = app.actors(12).await;
    let count = "query($id: ID!) { user(id: $id) { followersCount } }";
    let read = |user: &Actor| app.graphql(None, count, json!({ "id": user.id.to_string() }));
    // At once, so that the pool holds several connections, each idle for a moment only.
    let answers = join_all(users.iter().chain(&users).map(read)).await;
    assert!(answers.iter().all(|body| body["errors"].is_null()), "{answers:?}");

    let ended = app.database.end_other_sessions().await;
    assert!(ended > 1, "the server ended {ended} sessions");
    let mut failed = 0;
    for user in &users {
        let body = read(user).await;
        if !body["errors"].is_null() {
            assert_eq!(error_code(&body), Some("SERVICE_UNAVAILABLE"), "{body}");
            failed += 1;
        }
    }
    assert!(failed <= 1, "{failed} reads failed after the server ended {ended} sessions");
    app.teardown().await;
}

/// The legacy's own server shut down by its operator and started again on its data: the pool's
/// connections all die at once, and new ones are refused until it is back.
async fn mariadb_stopped_and_started_again_answers_unavailable_and_heals(setup: Setup) {
    let mut server = PrivateMariadb::start().await;
    let Some(app) = setup.app().mysql_server(server.url()).spawn().await else { return };
    let [a, b, c] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    assert_eq!(app.rest_follow(&a, json!(b.id)).await.0, StatusCode::CREATED);

    server.stop();
    everything_answers_unavailable(&app, &a, c.id).await;
    server.restart().await;
    heals(&app, &a, c.id).await;
    app.teardown().await;
}

/// During an outage: a follow by either door, a read and readiness all answer unavailable,
/// each within the pool's acquire timeout.
async fn everything_answers_unavailable(app: &TestApp, a: &Actor, target: i64) {
    let started = Instant::now();
    let (status, body) = app.rest_follow(a, json!(target)).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "message": "The service is temporarily unavailable." })
        )
    );
    let body = app.gql_act(a, "followUser", json!(target)).await;
    assert_eq!(error_code(&body), Some("SERVICE_UNAVAILABLE"), "{body}");
    let mutation = app.graphql(Some(a), "{ user(id: \"1\") { followersCount } }", json!({})).await;
    assert!(mutation["errors"].is_array(), "{mutation}");
    let list = app.client.get(app.url("/app/v1_0/user/followings")).bearer_auth(&a.token);
    assert_eq!(read(list.send().await.unwrap()).await.0, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(ready(app).await, StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_secs(20), "each answer within the acquire timeout");
}

/// Once the database is back: ready again and the refused follow taken, without a restart.
async fn heals(app: &TestApp, a: &Actor, target: i64) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while ready(app).await != StatusCode::OK {
        assert!(Instant::now() < deadline, "readiness never came back");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(
        app.rest_follow(a, json!(target)).await.0,
        StatusCode::CREATED,
        "healed without a restart"
    );
    assert_eq!(app.counts(a.id).await, (2, 0));
}

/// With the pool's one write connection stuck behind another writer's lock (a row lock on
/// PostgreSQL, the file lock on SQLite), another write answers 503 at the acquire timeout, the
/// stuck one at the statement (busy) timeout, nothing is half-written, and all heals.
async fn an_exhausted_pool_answers_unavailable_in_bounded_time(setup: Setup) {
    let tuned = setup.app().tune(|s| s.database_max_connections = 1);
    let Some(app) = tuned.spawn().await else { return };
    let [a, b, c] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    assert_eq!(app.rest_follow(&a, json!(b.id)).await.0, StatusCode::CREATED);
    let blocker = app.database.block_writes(a.id, b.id).await;

    let started = Instant::now();
    let target = b.id.to_string();
    let stuck = app.rest_unfollow(&a, &target);
    let waiting = async {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let answer = app.rest_follow(&c, json!(a.id)).await;
        (answer, started.elapsed())
    };
    let ((stuck_status, _), ((waiting_status, _), waited)) = tokio::join!(stuck, waiting);
    assert_eq!(waiting_status, StatusCode::SERVICE_UNAVAILABLE, "no connection to be had");
    assert!(waited < Duration::from_secs(5), "answered at the acquire timeout: {waited:?}");
    assert_eq!(stuck_status, StatusCode::SERVICE_UNAVAILABLE, "cut by the statement timeout");
    assert!(started.elapsed() < Duration::from_secs(8));

    blocker.release().await;
    assert_eq!(app.relation(c.id, a.id).await, None, "the refused write left nothing");
    assert_eq!(app.rest_unfollow(&a, &b.id.to_string()).await.0, StatusCode::OK, "healed");
    assert_eq!(app.relation(a.id, b.id).await.unwrap().relation, 0);
    app.teardown().await;
}

/// A database renamed away (SQLSTATE 3D000 on every new connection) is an outage like any
/// other: 503, not 500, and it heals when the name comes back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_renamed_away_answers_unavailable_and_heals() {
    let Some(app) = TestApp::on(Backend::Postgres).spawn().await else { return };
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    let name = app.database.postgres_name().expect("a PostgreSQL app").to_owned();
    let away = format!("{name}_away");
    app.database.rename_postgres(&name, &away).await;

    let (status, body) = app.rest_follow(&a, json!(b.id)).await;
    assert_eq!(
        (status, body),
        (
            StatusCode::SERVICE_UNAVAILABLE,
            json!({ "message": "The service is temporarily unavailable." })
        )
    );
    let body = app.gql_act(&a, "followUser", json!(b.id)).await;
    assert_eq!(error_code(&body), Some("SERVICE_UNAVAILABLE"), "{body}");
    assert_eq!(ready(&app).await, StatusCode::SERVICE_UNAVAILABLE);

    app.database.rename_postgres(&away, &name).await;
    assert_eq!(app.rest_follow(&a, json!(b.id)).await.0, StatusCode::CREATED, "healed");
    app.teardown().await;
}

/// One database failure is one log line, however many fields share it: the cause is logged
/// where it becomes the service's, not by each GraphQL field that reads the batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_database_failure_shared_by_many_fields_is_logged_once() {
    let Some(app) = TestApp::on(Backend::Postgres).spawn().await else { return };
    let users = app.actors(10).await;
    let binary = Binary::start(&app).await;
    let name = app.database.postgres_name().expect("a PostgreSQL app").to_owned();
    let away = format!("{name}_away");
    app.database.rename_postgres(&name, &away).await;

    let fields: Vec<String> = users
        .iter()
        .enumerate()
        .map(|(i, u)| format!("u{i}: user(id: \"{}\") {{ name }}", u.id))
        .collect();
    let query = format!("{{ {} }}", fields.join(" "));
    let request =
        app.client.post(format!("{}/graphql", binary.url)).json(&json!({ "query": query }));
    let body: serde_json::Value = request.send().await.unwrap().json().await.unwrap();
    let errors = body["errors"].as_array().expect("errors");
    assert_eq!(errors.len(), users.len(), "every field fails: {body}");
    assert!(errors.iter().all(|e| e["extensions"]["code"] == "SERVICE_UNAVAILABLE"), "{body}");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let log = binary.log();
    let logged = log.lines().filter(|l| l.contains("database unavailable")).count();
    assert_eq!(logged, 1, "one batch, one round trip, one line:\n{log}");

    drop(binary);
    app.database.rename_postgres(&away, &name).await;
    app.teardown().await;
}

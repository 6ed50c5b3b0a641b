//! SPEC §10 across instances and to the legacy IM server: a subscriber gets its events whatever
//! instance took the follow (through RabbitMQ, or through the outbox's catch-up poll when there
//! is no broker or it is away), and python-socketio's KombuManager gets `following notify`.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use followgraph::cli::Settings;
use serde_json::{json, Value};

use crate::events::{next_event, nothing_more, subscribe};
use crate::helpers::{amqp_addr, amqp_url, Actor, ImServer, Setup, TestApp};
use crate::proxy::ChaosProxy;
use crate::socket::Socket;

backend_setups!(an_event_crosses_instances_through_the_broker);
setup_suite!([sqlite] without_a_broker_events_cross_instances_by_the_poll);
setup_suite!([postgres] a_broker_outage_leaves_events_to_the_outbox_and_heals);
setup_suite!([sqlite, mysql] the_legacy_im_server_gets_following_notify_from_python_socketio);
backend_setups!(the_outbox_drops_old_events_but_each_users_newest);

/// A poll too slow to matter within a test: what arrives came through the broker.
const NO_POLL: u64 = 600_000;

/// `POST /app/v1_0/user/followings` as `actor` on the instance at `addr`.
async fn follow_at(app: &TestApp, addr: SocketAddr, actor: &Actor, target: i64) {
    let url = format!("http://{addr}/app/v1_0/user/followings");
    let request = app.client.post(url).bearer_auth(&actor.token);
    let response = request.json(&json!({ "target": target })).send().await.expect("follow");
    assert_eq!(response.status(), 201);
}

/// The readiness report of the instance at `addr`.
async fn readiness(app: &TestApp, addr: SocketAddr) -> Value {
    let response = app.client.get(format!("http://{addr}/readyz")).send().await.expect("readyz");
    response.json().await.expect("json")
}

/// Waits until the event broker link of the instance at `addr` reports `state`.
async fn broker_is(app: &TestApp, addr: SocketAddr, state: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while readiness(app, addr).await["events_broker"]["state"] != json!(state) {
        assert!(Instant::now() < deadline, "the broker link never became {state}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The next event, which must come within `wait`: `(id, actor)`.
async fn event_within(socket: &mut Socket, wait: Duration) -> (u64, i64) {
    let started = Instant::now();
    let (id, _, actor) = tokio::time::timeout(wait, next_event(socket))
        .await
        .unwrap_or_else(|_| panic!("no event within {wait:?}"));
    assert!(started.elapsed() < wait);
    (id, actor)
}

async fn an_event_crosses_instances_through_the_broker(setup: Setup) {
    let Some(amqp) = amqp_url().await else { return };
    let brokered = move |s: &mut Settings| {
        s.events_amqp_url = Some(amqp.clone());
        s.events_poll_ms = NO_POLL;
    };
    let Some(app) = setup.app().tune(brokered.clone()).spawn().await else { return };
    let other = app.another_instance(brokered).await;
    broker_is(&app, app.addr, "connected").await;
    broker_is(&app, other.addr, "connected").await;
    let users = app.actors(3).await;
    let [v, a, b] = [0, 1, 2].map(|i| &users[i]);
    let mut here = subscribe(&app, v, Some("0")).await;
    let mut there = Socket::as_actor_at(other.addr, v).await;
    let payload = json!({ "query": crate::events::EVENTS, "variables": { "after": "0" } });
    there.send(json!({ "type": "subscribe", "id": "e", "payload": payload })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    follow_at(&app, other.addr, a, v.id).await;
    follow_at(&app, app.addr, b, v.id).await;
    for socket in [&mut here, &mut there] {
        assert_eq!(event_within(socket, Duration::from_secs(5)).await, (1, a.id));
        assert_eq!(event_within(socket, Duration::from_secs(5)).await, (2, b.id));
        nothing_more(socket).await;
    }
    app.teardown().await;
}

async fn without_a_broker_events_cross_instances_by_the_poll(setup: Setup) {
    let polled = |s: &mut Settings| s.events_poll_ms = 200;
    let Some(app) = setup.app().tune(polled).spawn().await else { return };
    let other = app.another_instance(polled).await;
    assert_eq!(readiness(&app, app.addr).await["events_broker"]["state"], json!("disabled"));
    let users = app.actors(3).await;
    let [v, a, b] = [0, 1, 2].map(|i| &users[i]);
    let mut socket = subscribe(&app, v, Some("0")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    follow_at(&app, other.addr, a, v.id).await;
    assert_eq!(event_within(&mut socket, Duration::from_secs(3)).await, (1, a.id));
    follow_at(&app, app.addr, b, v.id).await;
    assert_eq!(event_within(&mut socket, Duration::from_secs(3)).await, (2, b.id));
    nothing_more(&mut socket).await;
    app.teardown().await;
}

async fn a_broker_outage_leaves_events_to_the_outbox_and_heals(setup: Setup) {
    let Some(amqp) = amqp_url().await else { return };
    let proxy = ChaosProxy::start(amqp_addr(&amqp)).await;
    let through_proxy = amqp.replace(&amqp_addr(&amqp).to_string(), &proxy.addr.to_string());
    let (direct, proxied) = (amqp.clone(), through_proxy.clone());
    let Some(app) = setup
        .app()
        .tune(move |s| {
            s.events_amqp_url = Some(proxied);
            s.events_poll_ms = 300;
        })
        .spawn()
        .await
    else {
        return;
    };
    let other = app.another_instance(move |s| {
        s.events_amqp_url = Some(direct);
        s.events_poll_ms = NO_POLL;
    });
    let other = other.await;
    broker_is(&app, app.addr, "connected").await;
    broker_is(&app, other.addr, "connected").await;
    let users = app.actors(4).await;
    let [v, a, b, c] = [0, 1, 2, 3].map(|i| &users[i]);
    let mut socket = subscribe(&app, v, Some("0")).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    follow_at(&app, other.addr, a, v.id).await;
    assert_eq!(event_within(&mut socket, Duration::from_secs(3)).await, (1, a.id));
    proxy.cut();
    broker_is(&app, app.addr, "unavailable").await;
    let ready = readiness(&app, app.addr).await;
    assert_eq!(ready["status"], json!("ready"), "a broker outage never makes it unready: {ready}");
    follow_at(&app, other.addr, b, v.id).await;
    assert_eq!(event_within(&mut socket, Duration::from_secs(3)).await, (2, b.id), "by the outbox");
    proxy.restore();
    broker_is(&app, app.addr, "connected").await;
    follow_at(&app, other.addr, c, v.id).await;
    assert_eq!(event_within(&mut socket, Duration::from_secs(3)).await, (3, c.id));
    nothing_more(&mut socket).await;
    app.teardown().await;
}

async fn the_legacy_im_server_gets_following_notify_from_python_socketio(setup: Setup) {
    let Some(amqp) = amqp_url().await else { return };
    let notified = amqp.clone();
    let app = setup.app().tune(move |s| s.legacy_notify_amqp_url = Some(notified));
    let Some(app) = app.spawn().await else { return };
    let users = app.actors(3).await;
    let [v, a, someone] = [0, 1, 2].map(|i| &users[i]);
    let Some(mut im) = ImServer::start(&amqp, v.id).await else { return };
    let before = chrono::Utc::now().timestamp();
    app.rest_follow(a, json!(v.id)).await;
    let notice = im.notification(Duration::from_secs(10)).await.expect("following notify");
    assert_eq!(notice["user_id"], json!(a.id), "{notice}");
    assert_eq!(notice["user_name"], json!(format!("user {}", a.id)));
    assert_eq!(notice["user_photo"], json!(null));
    let at = notice["timestamp"].as_i64().expect("Unix seconds");
    assert!((before - 1..=chrono::Utc::now().timestamp()).contains(&at), "{at} vs {before}");
    app.rest_follow(a, json!(v.id)).await; // a repeat: not told again (the legacy app did)
    app.rest_follow(a, json!(someone.id)).await; // another room
    assert_eq!(im.notification(Duration::from_secs(2)).await, None);
    app.teardown().await;
}

async fn the_outbox_drops_old_events_but_each_users_newest(setup: Setup) {
    let app = setup.app().tune(|s| s.events_cleanup_ms = 200);
    let Some(app) = app.spawn().await else { return };
    let users = app.actors(4).await;
    let [v, w, a, b] = [0, 1, 2, 3].map(|i| &users[i]);
    let old = (chrono::Utc::now() - chrono::Duration::hours(49)).timestamp_micros();
    for (user, seq) in [(v.id, 1), (v.id, 2), (v.id, 3), (w.id, 1)] {
        let insert = format!(
            "INSERT INTO followgraph_events (user_id, seq, kind, actor_id, at_micros) \
             VALUES ({user}, {seq}, 1, {}, {old})",
            a.id
        );
        app.database.run(&insert).await;
    }
    app.rest_follow(b, json!(w.id)).await; // w's newest is fresh
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let left =
            (crate::events::outbox(&app, v.id).await, crate::events::outbox(&app, w.id).await);
        if left == (vec![(3, a.id)], vec![(2, b.id)]) {
            break;
        }
        assert!(Instant::now() < deadline, "left in the outbox: {left:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let mut from_the_start = subscribe(&app, v, Some("0")).await;
    assert_eq!(next_event(&mut from_the_start).await, (3, "FOLLOWED".into(), a.id), "what is kept");
    app.rest_follow(b, json!(v.id)).await;
    assert_eq!(
        next_event(&mut from_the_start).await,
        (4, "FOLLOWED".into(), b.id),
        "numbers go on"
    );
    app.teardown().await;
}

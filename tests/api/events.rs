//! SPEC §10, follow events: `followEvents` over the socket tells a user each new follower once,
//! in order, and nothing else; a subscriber that comes back with `after` first gets what it
//! missed; subscriptions are bounded; the outbox keeps what it must and drops what is old.

use std::time::Duration;

use serde_json::{json, Value};

use crate::helpers::{error_code, Actor, Setup, TestApp};
use crate::socket::{Received, Socket};

pub const EVENTS: &str = "subscription($after: ID) {
    followEvents(after: $after) { id kind at actor { id name } }
}";

/// A socket of `viewer` subscribed to its events (operation id `e`) after `after`.
pub async fn subscribe(app: &TestApp, viewer: &Actor, after: Option<&str>) -> Socket {
    let mut socket = Socket::as_actor(app, viewer).await;
    let payload = json!({ "query": EVENTS, "variables": { "after": after } });
    socket.send(json!({ "type": "subscribe", "id": "e", "payload": payload })).await;
    socket
}

/// The next event on a subscription: `(id, kind, actor id)`.
pub async fn next_event(socket: &mut Socket) -> (u64, String, i64) {
    match socket.next().await {
        Received::Message(m) if m["type"] == "next" && m["id"] == "e" => {
            let event = &m["payload"]["data"]["followEvents"];
            assert_eq!(m["payload"]["errors"], json!(null), "{m}");
            let id = event["id"].as_str().expect("id").parse().expect("a number");
            let actor = event["actor"]["id"].as_str().expect("actor").parse().expect("id");
            assert_eq!(event["actor"]["name"], json!(format!("user {actor}")));
            assert!(event["at"].as_str().is_some_and(|at| at.contains('T')), "{event}");
            (id, event["kind"].as_str().expect("kind").to_owned(), actor)
        }
        other => panic!("expected an event, got {other:?}"),
    }
}

/// Asserts that nothing comes within half a second.
pub async fn nothing_more(socket: &mut Socket) {
    let got = socket.next_within(Duration::from_millis(500)).await;
    assert_eq!(got, None, "nothing else is announced");
}

async fn rest_block(app: &TestApp, actor: &Actor, target: i64) {
    let request = app.client.post(app.url("/app/v1_0/user/blacklists")).bearer_auth(&actor.token);
    let response = request.json(&json!({ "target": target })).send().await.expect("block");
    assert_eq!(response.status(), 201);
}

/// Events recorded for `user` in the outbox: `(seq, actor)` in order.
pub async fn outbox(app: &TestApp, user: i64) -> Vec<(i64, i64)> {
    let sql =
        format!("SELECT seq, actor_id FROM followgraph_events WHERE user_id = {user} ORDER BY seq");
    app.database.pairs(&sql).await
}

/// The code of the first error in `errors`.
fn code_in(errors: &Value) -> Option<String> {
    error_code(&json!({ "errors": errors })).map(str::to_owned)
}

backend_suite!(
    each_new_follower_is_told_once_in_order_and_nothing_else_is,
    a_subscriber_that_comes_back_gets_what_it_missed_first,
    events_need_a_viewer_and_a_real_event_id,
);
backend_setups!(subscriptions_are_bounded_per_connection_and_per_viewer);
setup_suite!([sqlite, postgres] a_subscriber_that_falls_behind_is_cut_off_with_1013);

async fn each_new_follower_is_told_once_in_order_and_nothing_else_is(app: &TestApp) {
    let users = app.actors(4).await;
    let [v, a, b, c] = [0, 1, 2, 3].map(|i| &users[i]);
    let mut socket = subscribe(app, v, Some("0")).await;
    app.rest_follow(a, json!(v.id)).await;
    app.rest_follow(a, json!(v.id)).await; // a repeat changes nothing
    rest_block(app, v, b.id).await; // blocks are never announced
    let (status, _) = app.rest_follow(b, json!(v.id)).await;
    assert_eq!(status, 403, "a refused follow");
    app.rest_follow(c, json!(v.id)).await;
    app.rest_unfollow(c, &v.id.to_string()).await; // unfollows are not announced
    let (status, _) = app.rest_follow(c, json!(v.id)).await;
    assert_eq!(status, 201);
    rest_block(app, v, a.id).await; // ends a's follow: not announced either
    assert_eq!(next_event(&mut socket).await, (1, "FOLLOWED".into(), a.id));
    assert_eq!(next_event(&mut socket).await, (2, "FOLLOWED".into(), c.id));
    assert_eq!(next_event(&mut socket).await, (3, "FOLLOWED".into(), c.id));
    nothing_more(&mut socket).await;
    let recorded = outbox(app, v.id).await;
    assert_eq!(recorded, [(1, a.id), (2, c.id), (3, c.id)]);
    for other in [a, b, c] {
        assert!(outbox(app, other.id).await.is_empty(), "nothing about {}", other.id);
    }
}

async fn a_subscriber_that_comes_back_gets_what_it_missed_first(app: &TestApp) {
    let users = app.actors(5).await;
    let [v, a, b, c, d] = [0, 1, 2, 3, 4].map(|i| &users[i]);
    let mut first = subscribe(app, v, None).await;
    // `None` starts from now: wait until the subscription is in place before the first follow.
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.rest_follow(a, json!(v.id)).await;
    assert_eq!(next_event(&mut first).await, (1, "FOLLOWED".into(), a.id));
    drop(first);
    for follower in [b, c] {
        app.rest_follow(follower, json!(v.id)).await;
    }
    let mut back = subscribe(app, v, Some("1")).await;
    assert_eq!(next_event(&mut back).await, (2, "FOLLOWED".into(), b.id), "missed, in order");
    assert_eq!(next_event(&mut back).await, (3, "FOLLOWED".into(), c.id));
    app.rest_follow(d, json!(v.id)).await;
    assert_eq!(next_event(&mut back).await, (4, "FOLLOWED".into(), d.id), "then live");
    nothing_more(&mut back).await;
    let mut all = subscribe(app, v, Some("0")).await;
    for (id, follower) in [(1, a), (2, b), (3, c), (4, d)] {
        assert_eq!(next_event(&mut all).await, (id, "FOLLOWED".into(), follower.id));
    }
}

async fn events_need_a_viewer_and_a_real_event_id(app: &TestApp) {
    let users = app.actors(2).await;
    let [v, a] = [0, 1].map(|i| &users[i]);
    app.rest_follow(a, json!(v.id)).await;
    let mut anonymous = Socket::ready(app, json!({})).await;
    let (nexts, end) = anonymous.operation("e", EVENTS, json!({})).await;
    let error = nexts.first().map_or(end, |n| n["errors"].clone());
    assert_eq!(code_in(&error).as_deref(), Some("UNAUTHENTICATED"));
    let mut socket = Socket::as_actor(app, v).await;
    for bad in ["", "x", "-1", "+1", "1.0", " 1"] {
        let (nexts, end) = socket.operation("e", EVENTS, json!({ "after": bad })).await;
        let error = nexts.first().map_or(end, |n| n["errors"].clone());
        assert_eq!(code_in(&error).as_deref(), Some("BAD_USER_INPUT"), "after: {bad:?}");
    }
    let (nexts, end) = socket.operation("e", EVENTS, json!({ "after": "2" })).await;
    let error = nexts.first().map_or(end, |n| n["errors"].clone());
    assert_eq!(code_in(&error).as_deref(), Some("BAD_USER_INPUT"), "after the newest event");
}

async fn subscriptions_are_bounded_per_connection_and_per_viewer(setup: Setup) {
    let app = setup.app().tune(|s| {
        s.subscriptions_per_connection = 2;
        s.subscriptions_per_viewer = 3;
    });
    let Some(app) = app.spawn().await else { return };
    let users = app.actors(1).await;
    let v = &users[0];
    let payload = json!({ "query": EVENTS, "variables": { "after": "0" } });
    let mut one = Socket::as_actor(&app, v).await;
    for id in ["a", "b", "c"] {
        one.send(json!({ "type": "subscribe", "id": id, "payload": payload })).await;
    }
    // The three start at once: whichever comes third is refused.
    let refusal = one.next().await;
    let Received::Message(refused) = refusal else { panic!("{refusal:?}") };
    assert_eq!(refused["type"], json!("error"), "{refused}");
    assert_eq!(refused["payload"][0]["extensions"]["code"], json!("QUERY_LIMIT"));
    assert_eq!(refused["payload"][0]["extensions"]["limit"], json!("subscriptions"));
    let mut two = Socket::as_actor(&app, v).await;
    two.send(json!({ "type": "subscribe", "id": "d", "payload": payload })).await;
    let (nexts, end) = two.operation("e", EVENTS, json!({ "after": "0" })).await;
    let error = nexts.first().map_or(end, |n| n["errors"].clone());
    assert_eq!(error[0]["extensions"]["code"], json!("QUERY_LIMIT"), "a fourth for the viewer");
    drop(one);
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut three = Socket::as_actor(&app, v).await;
    three.send(json!({ "type": "subscribe", "id": "e", "payload": payload })).await;
    nothing_more(&mut three).await; // taken: the closed connection's places were given back
    app.teardown().await;
}

async fn a_subscriber_that_falls_behind_is_cut_off_with_1013(setup: Setup) {
    let Some(app) = setup.app().tune(|s| s.subscription_buffer = 4).spawn().await else { return };
    let users = app.actors(401).await;
    let (v, followers) = users.split_first().unwrap();
    let mut socket = Socket::as_slow_actor(&app, v, 2048).await;
    let payload = json!({ "query": EVENTS, "variables": {} });
    socket.send(json!({ "type": "subscribe", "id": "e", "payload": payload })).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    // The client reads nothing while 400 follows happen: its window, the socket's queues and
    // the subscriber's buffer of 4 fill, and the subscriber is cut off.
    for chunk in followers.chunks(50) {
        futures_util::future::join_all(chunk.iter().map(|f| app.rest_follow(f, json!(v.id)))).await;
    }
    let mut delivered = 0;
    let closed = loop {
        match socket.next().await {
            Received::Message(m) if m["type"] == "next" => delivered += 1,
            Received::Closed(code, reason) => break (code, reason),
            other => panic!("unexpected {other:?}"),
        }
    };
    assert_eq!(closed.0, 1013, "{closed:?} after {delivered} events");
    assert!(delivered < 400, "cut off before the end: {delivered}");
    let resumed = delivered.to_string();
    let mut back = subscribe(&app, v, Some(&resumed)).await;
    assert_eq!(next_event(&mut back).await.0, delivered as u64 + 1, "it resumes where it was cut");
    app.teardown().await;
}

//! SPEC §9, GraphQL over WebSocket (graphql-transport-ws): the token in `connection_init`, the
//! protocol's close codes, and operations that behave exactly as over HTTP.

use std::time::{Duration, Instant};

use futures_util::{SinkExt, StreamExt};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::helpers::{token, Actor, Setup, TestApp};

type Stream =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// A raw graphql-transport-ws client.
pub struct Socket(Stream);

/// What the server sent next: a message, or the close code and reason.
#[derive(Debug, PartialEq)]
pub enum Received {
    Message(Value),
    Closed(u16, String),
}

impl Socket {
    /// Opens `/graphql/ws` offering `protocol` (or none).
    pub async fn open_with(app: &TestApp, protocol: &str) -> Socket {
        Socket::open_at(app.addr, protocol).await
    }

    /// As `actor`, over a connection whose client takes at most `window` bytes in before the
    /// test reads them: a client on a slow network.
    pub async fn as_slow_actor(app: &TestApp, actor: &Actor, window: u32) -> Socket {
        let tcp = tokio::net::TcpSocket::new_v4().expect("socket");
        tcp.set_recv_buffer_size(window).expect("receive buffer");
        let stream = tcp.connect(app.addr).await.expect("connect");
        let mut request = format!("ws://{}/graphql/ws", app.addr).into_client_request().unwrap();
        request
            .headers_mut()
            .insert("sec-websocket-protocol", "graphql-transport-ws".parse().unwrap());
        let stream = tokio_tungstenite::MaybeTlsStream::Plain(stream);
        let (stream, _) = tokio_tungstenite::client_async(request, stream).await.expect("ws");
        let mut socket = Socket(stream);
        let payload = json!({ "Authorization": format!("Bearer {}", actor.token) });
        socket.send(json!({ "type": "connection_init", "payload": payload })).await;
        assert_eq!(socket.next().await, Received::Message(json!({ "type": "connection_ack" })));
        socket
    }

    /// Opens `/graphql/ws` of the instance at `addr`.
    async fn open_at(addr: std::net::SocketAddr, protocol: &str) -> Socket {
        let mut request = format!("ws://{addr}/graphql/ws").into_client_request().unwrap();
        if !protocol.is_empty() {
            request.headers_mut().insert("sec-websocket-protocol", protocol.parse().unwrap());
        }
        let (stream, _) = tokio_tungstenite::connect_async(request).await.expect("ws connects");
        Socket(stream)
    }

    /// Opens the socket and initialises it with `payload`, expecting the ack.
    pub async fn ready(app: &TestApp, payload: Value) -> Socket {
        Socket::ready_at(app.addr, payload).await
    }

    async fn ready_at(addr: std::net::SocketAddr, payload: Value) -> Socket {
        let mut socket = Socket::open_at(addr, "graphql-transport-ws").await;
        socket.send(json!({ "type": "connection_init", "payload": payload })).await;
        assert_eq!(socket.next().await, Received::Message(json!({ "type": "connection_ack" })));
        socket
    }

    /// As `actor`, with the token as graphql-ws clients send it.
    pub async fn as_actor(app: &TestApp, actor: &Actor) -> Socket {
        Socket::as_actor_at(app.addr, actor).await
    }

    /// As `actor`, on the instance at `addr`.
    pub async fn as_actor_at(addr: std::net::SocketAddr, actor: &Actor) -> Socket {
        Socket::ready_at(addr, json!({ "Authorization": format!("Bearer {}", actor.token) })).await
    }

    pub async fn send(&mut self, message: Value) {
        self.0.send(Message::text(message.to_string())).await.expect("ws send");
    }

    pub async fn send_raw(&mut self, text: &str) {
        self.0.send(Message::text(text.to_owned())).await.expect("ws send");
    }

    /// The next message or close, within 15 s.
    pub async fn next(&mut self) -> Received {
        loop {
            let message = tokio::time::timeout(Duration::from_secs(15), self.0.next())
                .await
                .expect("the server answers within 15 s");
            match message {
                Some(Ok(Message::Text(text))) => {
                    return Received::Message(serde_json::from_str(&text).expect("json"))
                }
                Some(Ok(Message::Close(Some(frame)))) => {
                    return Received::Closed(frame.code.into(), frame.reason.to_string())
                }
                Some(Ok(Message::Close(None))) | None | Some(Err(_)) => {
                    return Received::Closed(1005, String::new())
                }
                Some(Ok(_)) => continue,
            }
        }
    }

    /// The next message or close if one comes within `wait`.
    pub async fn next_within(&mut self, wait: Duration) -> Option<Received> {
        tokio::time::timeout(wait, self.next()).await.ok()
    }

    /// Runs one operation and returns the payloads of its `next` messages and how it ended
    /// (`complete`, or the `error` message's payload).
    pub async fn operation(
        &mut self,
        id: &str,
        query: &str,
        variables: Value,
    ) -> (Vec<Value>, Value) {
        let payload = json!({ "query": query, "variables": variables });
        self.send(json!({ "id": id, "type": "subscribe", "payload": payload })).await;
        let mut nexts = Vec::new();
        loop {
            match self.next().await {
                Received::Message(m) if m["type"] == "next" && m["id"] == id => {
                    nexts.push(m["payload"].clone())
                }
                Received::Message(m) if m["type"] == "complete" && m["id"] == id => {
                    return (nexts, json!("complete"))
                }
                Received::Message(m) if m["type"] == "error" && m["id"] == id => {
                    return (nexts, m["payload"].clone())
                }
                other => panic!("unexpected {other:?}"),
            }
        }
    }
}

fn no_internal_names(text: &str) {
    for leak in ["followgraph::", "async_graphql", "Data `", "does not exist."] {
        assert!(!text.contains(leak), "an internal name in {text}");
    }
}

backend_suite!(
    queries_and_mutations_over_the_socket_act_for_the_token_in_connection_init,
    refusals_over_the_socket_are_error_messages_with_the_http_codes,
    the_socket_closes_with_the_protocol_codes,
    a_duplicate_id_of_a_running_operation_closes_with_4409,
    the_socket_closes_when_its_token_expires,
);
backend_setups!(socket_operations_count_against_the_rate_limit);

async fn queries_and_mutations_over_the_socket_act_for_the_token_in_connection_init(app: &TestApp) {
    let [a, b, c] = <[_; 3]>::try_from(app.actors(3).await).unwrap();
    let mut socket = Socket::as_actor(app, &a).await;
    let follow = "mutation($t: ID!) { followUser(target: $t) { target user { followersCount viewerIsFollowing } } }";
    for target in [&b, &c] {
        let (nexts, end) = socket.operation("f", follow, json!({ "t": target.id })).await;
        assert_eq!(end, json!("complete"));
        assert_eq!(
            nexts[0]["data"]["followUser"]["user"],
            json!({ "followersCount": 1, "viewerIsFollowing": true }),
            "{nexts:?}"
        );
    }
    let read = "{ viewer { followingCount following(first: 5) { nodes { id followersCount isFollowingViewer } } } }";
    let (nexts, _) = socket.operation("r", read, json!({})).await;
    let viewer = &nexts[0]["data"]["viewer"];
    assert_eq!(viewer["followingCount"], json!(2), "{nexts:?}");
    assert_eq!(viewer["following"]["nodes"].as_array().unwrap().len(), 2);
    assert_eq!(app.relation(a.id, b.id).await.unwrap().relation, 1);

    let lowercase = json!({ "authorization": format!("Bearer {}", b.token) });
    let mut other = Socket::ready(app, lowercase).await;
    let (nexts, _) = other.operation("1", "{ viewer { id followersCount } }", json!({})).await;
    assert_eq!(nexts[0]["data"]["viewer"], json!({ "id": b.id.to_string(), "followersCount": 1 }));
    let mut anonymous = Socket::ready(app, json!({})).await;
    let (nexts, _) = anonymous.operation("1", "{ viewer { id } }", json!({})).await;
    assert_eq!(nexts[0]["errors"][0]["extensions"]["code"], json!("UNAUTHENTICATED"), "{nexts:?}");
    no_internal_names(&nexts[0].to_string());
}

async fn refusals_over_the_socket_are_error_messages_with_the_http_codes(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    let mut socket = Socket::as_actor(app, &a).await;
    let deep = format!(
        "{{ viewer {{ {} }} }}",
        "following { nodes { ".repeat(6) + "id" + &" } }".repeat(6)
    );
    let (nexts, error) = socket.operation("d", &deep, json!({})).await;
    assert!(nexts.is_empty());
    assert_eq!(error[0]["extensions"]["code"], json!("QUERY_LIMIT"), "{error}");
    assert_eq!(error[0]["extensions"]["limit"], json!("depth"));
    let (_, error) = socket.operation("v", "{ nosuchfield }", json!({})).await;
    assert_eq!(error[0]["extensions"]["code"], json!("BAD_USER_INPUT"), "{error}");
    no_internal_names(&error.to_string());
    let (_, error) = socket.operation("s", "subscription { nothing }", json!({})).await;
    assert_eq!(error[0]["extensions"]["code"], json!("BAD_USER_INPUT"), "{error}");
    let (nexts, end) = socket.operation("v", "{ __typename }", json!({})).await;
    assert_eq!(
        (nexts[0]["data"]["__typename"].clone(), end),
        (json!("Query"), json!("complete")),
        "an id can be used again once done"
    );
}

async fn closed_with(socket: &mut Socket) -> u16 {
    loop {
        match socket.next().await {
            Received::Closed(code, _) => return code,
            Received::Message(m) => assert_ne!(m["type"], "connection_ack", "no ack: {m}"),
        }
    }
}

async fn the_socket_closes_with_the_protocol_codes(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    let forged = crate::helpers::sign(
        jsonwebtoken::Algorithm::HS256,
        "wrong-secret",
        json!({ "user_id": a.id }),
        3600,
    );
    for payload in [
        json!({ "Authorization": format!("Bearer {forged}") }),
        json!({ "Authorization": "Bearer" }),
        json!({ "Authorization": 42 }),
        json!({ "Authorization": format!("Bearer {}", token(json!({ "user_id": a.id, "refresh": true }), 3600)) }),
        json!({ "Authorization": format!("Bearer {}", token(json!({ "user_id": a.id + 999_999 }), 3600)) }),
    ] {
        let mut socket = Socket::open_with(app, "graphql-transport-ws").await;
        socket.send(json!({ "type": "connection_init", "payload": payload })).await;
        assert_eq!(closed_with(&mut socket).await, 4403, "{payload}");
    }

    let mut socket = Socket::open_with(app, "graphql-transport-ws").await;
    socket
        .send(json!({ "id": "1", "type": "subscribe", "payload": { "query": "{ __typename }" } }))
        .await;
    assert_eq!(closed_with(&mut socket).await, 4401, "subscribe before the ack");

    let mut socket = Socket::ready(app, json!({})).await;
    socket.send(json!({ "type": "connection_init" })).await;
    assert_eq!(closed_with(&mut socket).await, 4429, "a second init");

    for bad in [
        "not json",
        "{\"type\":\"nope\"}",
        "{\"type\":\"subscribe\",\"id\":\"1\",\"payload\":{\"query\":0}}",
    ] {
        let mut socket = Socket::ready(app, json!({})).await;
        socket.send_raw(bad).await;
        assert_eq!(closed_with(&mut socket).await, 4400, "{bad}");
    }

    let mut socket = Socket::as_actor(app, &a).await;
    socket.send(json!({ "type": "ping" })).await;
    assert_eq!(socket.next().await, Received::Message(json!({ "type": "pong" })));

    let mut socket = Socket::open_with(app, "").await;
    assert_eq!(closed_with(&mut socket).await, 4406, "no subprotocol offered");

    let started = Instant::now();
    let mut silent = Socket::open_with(app, "graphql-transport-ws").await;
    assert_eq!(closed_with(&mut silent).await, 4408, "no connection_init");
    assert!(started.elapsed() >= Duration::from_secs(9), "after the 10 s allowed");
}

/// An operation held behind another writer's lock is still running when the same id comes again.
async fn a_duplicate_id_of_a_running_operation_closes_with_4409(app: &TestApp) {
    let [a, b] = <[_; 2]>::try_from(app.actors(2).await).unwrap();
    app.rest_follow(&a, json!(b.id)).await;
    let blocker = app.database.block_writes(a.id, b.id).await;
    let mut socket = Socket::as_actor(app, &a).await;
    let unfollow = json!({ "query": "mutation($t: ID!) { unfollowUser(target: $t) { target } }", "variables": { "t": b.id } });
    let subscribe = json!({ "id": "same", "type": "subscribe", "payload": unfollow });
    socket.send(subscribe.clone()).await;
    socket.send(subscribe).await;
    assert_eq!(closed_with(&mut socket).await, 4409);
    blocker.release().await;
    // The unfollow goes on after the close; a write to the same pair waits for it to finish
    // (pairs are held until the cache has caught up), so the teardown sees it whole.
    assert_eq!(app.rest_unfollow(&a, &b.id.to_string()).await.0, reqwest::StatusCode::OK);
}

async fn the_socket_closes_when_its_token_expires(app: &TestApp) {
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    // Expired 25 s ago: still within the 30 s leeway, so it opens a session for about 5 s
    // (room for a loaded machine to connect and answer one operation first).
    let short = token(json!({ "user_id": a.id }), -25);
    let mut socket =
        Socket::ready(app, json!({ "Authorization": format!("Bearer {short}") })).await;
    let (nexts, _) = socket.operation("1", "{ viewer { id } }", json!({})).await;
    assert_eq!(nexts[0]["data"]["viewer"]["id"], json!(a.id.to_string()));
    let started = Instant::now();
    assert_eq!(closed_with(&mut socket).await, 4403);
    assert!(started.elapsed() < Duration::from_secs(10), "{:?}", started.elapsed());
}

async fn socket_operations_count_against_the_rate_limit(setup: Setup) {
    let tuned = setup.app().tune(|s| s.rate_limit_per_minute = 3);
    let Some(app) = tuned.spawn().await else { return };
    let [a] = <[_; 1]>::try_from(app.actors(1).await).unwrap();
    // Counted per viewer: the upgrade carried no token, so it counted against the address.
    let mut socket = Socket::as_actor(&app, &a).await;
    for id in ["1", "2", "3"] {
        let (nexts, _) = socket.operation(id, "{ __typename }", json!({})).await;
        assert_eq!(nexts[0]["data"]["__typename"], json!("Query"));
    }
    let (nexts, error) = socket.operation("4", "{ __typename }", json!({})).await;
    assert!(nexts.is_empty());
    assert_eq!(error[0]["extensions"]["code"], json!("RATE_LIMITED"), "{error}");
    let over_http = app.client.post(app.url("/graphql")).bearer_auth(&a.token);
    let over_http = over_http.json(&json!({ "query": "{ __typename }" })).send().await.unwrap();
    assert_eq!(over_http.status(), reqwest::StatusCode::TOO_MANY_REQUESTS, "one bucket per viewer");
    assert!(error[0]["extensions"]["retryAfter"].as_u64().unwrap() >= 1);
    app.teardown().await;
}

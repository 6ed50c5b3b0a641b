//! GraphQL over WebSocket at `/graphql/ws`: the graphql-transport-ws protocol of the graphql-ws
//! library (github.com/enisdenjo/graphql-ws, PROTOCOL.md), which GraphiQL, Apollo's `GraphQLWsLink`
//! and urql's subscription exchange speak.
//!
//! - The client's first message is `connection_init`; its payload may carry the token as
//!   `{"Authorization": "Bearer …"}` (`authorization` too). A bad token closes with 4403 before
//!   the ack, no `connection_init` within 10 s with 4408, a second one with 4429. No token: an
//!   anonymous connection, as an HTTP request without one.
//! - The connection's viewer is fixed at init; each operation gets its own DataLoader, so nothing
//!   is cached from one operation to the next. The socket closes with 4403 when the token expires
//!   (its `exp` plus the usual leeway).
//! - `subscribe` runs through the same admission as HTTP (persisted queries, limits) and the same
//!   rate limit, one count per operation; a refusal is an `error` message for that id. A
//!   duplicate id of a running operation closes with 4409, a message that is not of the protocol
//!   with 4400, a `subscribe` before the ack with 4401.
//! - A subscription sends `next` for each event until the client completes it. A connection
//!   holds at most `SUBSCRIPTIONS_PER_CONNECTION` of them (one more is refused with an `error`,
//!   `QUERY_LIMIT`, `limit: "subscriptions"`). A subscriber that falls behind its buffer is cut
//!   off: the socket closes with 1013 (try again later), and the client resumes with `after`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use async_graphql::parser::types::OperationType;
use async_graphql::{Response, ServerError};
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::extract::{ConnectInfo, State};
use futures_util::{SinkExt, StreamExt};
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::GraphqlState;
use crate::auth::{AuthError, Session};
use crate::domain::ids::UserId;
use crate::graphql::error::{code, code_of, rate_limited};
use crate::graphql::limits::refusal;
use crate::graphql::never_ran;
use crate::graphql::request::GraphqlRequest;
use crate::ratelimit::Client;

/// The subprotocol, as the client must offer it in `Sec-WebSocket-Protocol`.
const PROTOCOL: &str = "graphql-transport-ws";

/// How long a client may take to send `connection_init`.
const INIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Messages waiting for a slow client before operations stop producing more.
const OUTBOX: usize = 64;

/// tungstenite's read and write buffers, per connection. Its defaults (128 KiB each, the read
/// one allocated at once) made an idle subscription cost about 150 KiB; messages larger than
/// these still pass (up to the body limit), in more reads.
const SOCKET_BUFFER: usize = 4096;

/// How long one message may take to go out before the client counts as gone: a socket whose
/// peer stopped reading would otherwise hold its operations (and their buffers) for as long as
/// TCP keeps it open.
const SEND_TIMEOUT: Duration = Duration::from_secs(30);

/// The protocol's close codes (PROTOCOL.md), and the WebSocket one for "try again later".
mod close {
    pub(crate) const BAD_MESSAGE: u16 = 4400;
    pub(crate) const UNAUTHORIZED: u16 = 4401;
    pub(crate) const FORBIDDEN: u16 = 4403;
    pub(crate) const SUBPROTOCOL: u16 = 4406;
    pub(crate) const INIT_TIMEOUT: u16 = 4408;
    pub(crate) const DUPLICATE_ID: u16 = 4409;
    pub(crate) const TOO_MANY_INITS: u16 = 4429;
    pub(crate) const TRY_AGAIN_LATER: u16 = 1013;
}

/// What a client may send.
#[derive(Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
enum ClientMessage {
    ConnectionInit {
        #[serde(default)]
        payload: Option<Value>,
    },
    Ping {},
    Pong {},
    Subscribe {
        id: String,
        payload: GraphqlRequest,
    },
    Complete {
        id: String,
    },
}

/// What an operation's task tells the connection.
enum Event {
    /// Send this message for the operation.
    Send(Message),
    /// The operation has ended; send this last message for it.
    Done { id: String, last: Message },
    /// Close the connection.
    Close(Close),
}

/// Upgrades to a WebSocket that speaks graphql-transport-ws.
pub(crate) async fn upgrade(
    State(state): State<GraphqlState>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    ws: WebSocketUpgrade,
) -> axum::response::Response {
    let offered = ws.requested_protocols().any(|p| p.as_bytes() == PROTOCOL.as_bytes());
    let ws = ws.read_buffer_size(SOCKET_BUFFER).write_buffer_size(SOCKET_BUFFER);
    ws.protocols([PROTOCOL]).max_message_size(state.max_body_bytes).on_upgrade(
        move |socket| async move {
            let connection = Connection::new(state, peer.ip());
            if offered {
                connection.serve(socket).await;
            } else {
                connection.refuse(socket).await;
            }
        },
    )
}

/// One client's socket.
struct Connection {
    state: GraphqlState,
    peer: IpAddr,
    /// Set by `connection_init`: the viewer (if any) and when the token stops being valid.
    session: Option<(Option<UserId>, Option<SystemTime>)>,
    running: HashMap<String, AbortHandle>,
    events: (mpsc::Sender<Event>, mpsc::Receiver<Event>),
    /// Subscriptions running on this connection.
    subscriptions: Arc<AtomicUsize>,
}

/// Why the connection ends.
struct Close(u16, &'static str);

impl Connection {
    fn new(state: GraphqlState, peer: IpAddr) -> Self {
        let events = mpsc::channel(OUTBOX);
        let subscriptions = Arc::default();
        Self { state, peer, session: None, running: HashMap::new(), events, subscriptions }
    }

    async fn refuse(self, mut socket: WebSocket) {
        let frame = close_frame(Close(close::SUBPROTOCOL, "Subprotocol not acceptable"));
        let _ = socket.send(frame).await;
    }

    async fn serve(mut self, socket: WebSocket) {
        let (mut sink, mut stream) = socket.split();
        let (out, mut outbox) = mpsc::channel::<Message>(OUTBOX);
        let writer = tokio::spawn(async move {
            while let Some(message) = outbox.recv().await {
                let closing = matches!(message, Message::Close(_));
                let sent = tokio::time::timeout(SEND_TIMEOUT, sink.send(message)).await;
                if !matches!(sent, Ok(Ok(()))) || closing {
                    return;
                }
            }
            // Ended without a close of ours (the client closed): flush the reply to its close
            // frame, which tungstenite has queued.
            let _ = sink.close().await;
        });
        let init_deadline = tokio::time::sleep(INIT_TIMEOUT);
        let mut init_deadline = std::pin::pin!(init_deadline);
        let closed = loop {
            let expiry = self.expiry();
            tokio::select! {
                () = &mut init_deadline, if self.session.is_none() => {
                    break Some(Close(close::INIT_TIMEOUT, "Connection initialisation timeout"));
                }
                () = tokio::time::sleep(expiry.unwrap_or_default()), if expiry.is_some() => {
                    break Some(Close(close::FORBIDDEN, "Forbidden: the token has expired"));
                }
                Some(event) = self.events.1.recv() => {
                    let message = match event {
                        Event::Send(message) => message,
                        Event::Done { id, last } => {
                            self.running.remove(&id);
                            last
                        }
                        Event::Close(close) => break Some(close),
                    };
                    if out.send(message).await.is_err() {
                        break None;
                    }
                }
                message = stream.next() => {
                    let text = match message {
                        Some(Ok(Message::Text(text))) => text,
                        Some(Ok(Message::Binary(_))) => {
                            break Some(Close(close::BAD_MESSAGE, "Invalid message received"));
                        }
                        Some(Ok(Message::Ping(_) | Message::Pong(_))) => continue,
                        Some(Ok(Message::Close(_)) | Err(_)) | None => break None,
                    };
                    match self.receive(text.as_str(), &out).await {
                        Ok(()) => {}
                        Err(close) => break Some(close),
                    }
                }
            }
        };
        for operation in self.running.values() {
            operation.abort();
        }
        if let Some(close) = closed {
            let _ = out.send(close_frame(close)).await;
        }
        drop(out);
        let _ = tokio::time::timeout(Duration::from_secs(1), writer).await;
    }

    /// How long until the session's token expires, if it does.
    fn expiry(&self) -> Option<Duration> {
        let expires_at = self.session.and_then(|(_, expires_at)| expires_at)?;
        Some(expires_at.duration_since(SystemTime::now()).unwrap_or_default())
    }

    /// Handles one client message; an error closes the connection.
    async fn receive(&mut self, text: &str, out: &mpsc::Sender<Message>) -> Result<(), Close> {
        let message: ClientMessage = serde_json::from_str(text)
            .map_err(|_| Close(close::BAD_MESSAGE, "Invalid message received"))?;
        match message {
            ClientMessage::ConnectionInit { payload } => {
                if self.session.is_some() {
                    return Err(Close(close::TOO_MANY_INITS, "Too many initialisation requests"));
                }
                self.session = Some(self.authenticate(payload).await?);
                let _ = out.send(text_message(&json!({ "type": "connection_ack" }))).await;
            }
            ClientMessage::Ping {} => {
                let _ = out.send(text_message(&json!({ "type": "pong" }))).await;
            }
            ClientMessage::Pong {} => {}
            ClientMessage::Subscribe { id, payload } => {
                if let Some(refused) = self.subscribe(id, payload).await? {
                    let _ = out.send(refused).await;
                }
            }
            ClientMessage::Complete { id } => {
                if let Some(operation) = self.running.remove(&id) {
                    operation.abort();
                }
            }
        }
        Ok(())
    }

    /// The session a `connection_init` payload opens.
    async fn authenticate(
        &self,
        payload: Option<Value>,
    ) -> Result<(Option<UserId>, Option<SystemTime>), Close> {
        let forbidden = || Close(close::FORBIDDEN, "Forbidden");
        let credential = payload
            .as_ref()
            .and_then(|p| p.get("Authorization").or_else(|| p.get("authorization")));
        let authorization = match credential {
            None | Some(Value::Null) => return Ok((None, None)),
            Some(Value::String(value)) => value,
            Some(_) => return Err(forbidden()),
        };
        match self.state.auth.session(authorization).await {
            Ok(Session { viewer, expires_at }) => Ok((Some(viewer), Some(expires_at))),
            Err(AuthError::Lookup(err)) => {
                tracing::warn!(error = %err, "cannot open a socket session");
                Err(Close(close::TRY_AGAIN_LATER, "Service unavailable; retry later"))
            }
            Err(_) => Err(forbidden()),
        }
    }

    /// Starts an operation: admitted and run as over HTTP, answered with `next` and `complete`,
    /// or `error` when it never ran. Returns the refusal to send at once, if it is refused here.
    async fn subscribe(
        &mut self,
        id: String,
        request: GraphqlRequest,
    ) -> Result<Option<Message>, Close> {
        let Some((viewer, _)) = self.session else {
            return Err(Close(close::UNAUTHORIZED, "Unauthorized"));
        };
        if self.running.contains_key(&id) {
            // The reason is fixed text: an id chosen by the client is not echoed back.
            return Err(Close(close::DUPLICATE_ID, "Subscriber for this id already exists"));
        }
        if let Some(limit) = &self.state.rate_limit {
            let client = viewer.map_or(Client::Address(self.peer), Client::Viewer);
            if let Err(retry_after) = limit.check(client).await {
                return Ok(Some(error_message(&id, &[rate_limited(retry_after)])));
            }
        }
        let events = self.events.0.clone();
        let state = self.state.clone();
        let task_id = id.clone();
        let subscriptions = self.subscriptions.clone();
        let task = tokio::spawn(async move {
            let operation = Operation { state: &state, id: &task_id, viewer, events: &events };
            let last = operation.run(request, &subscriptions).await;
            let _ = events.send(Event::Done { id: task_id, last }).await;
        });
        self.running.insert(id, task.abort_handle());
        Ok(None)
    }
}

/// One operation of a connection, run in its own task.
struct Operation<'a> {
    state: &'a GraphqlState,
    id: &'a str,
    viewer: Option<UserId>,
    events: &'a mpsc::Sender<Event>,
}

impl Operation<'_> {
    /// Runs the operation and returns its last message: `next` for each response (one for a
    /// query or mutation, one per event for a subscription), then `complete`; or `error`.
    async fn run(&self, request: GraphqlRequest, subscriptions: &Arc<AtomicUsize>) -> Message {
        let service = &self.state.service;
        let admitted = match request.check_readable() {
            Ok(()) => self.state.graphql.admit(request, service).await,
            Err(error) => Err(error),
        };
        let admitted = match admitted {
            Ok(admitted) => admitted,
            Err(error) => return error_message(self.id, &[error]),
        };
        let _slot = match admitted.kind() {
            Some(OperationType::Subscription) => {
                match Slot::take(subscriptions, self.state.subscriptions_per_connection) {
                    Some(slot) => Some(slot),
                    None => {
                        let limit = self.state.subscriptions_per_connection;
                        return error_message(self.id, &[refusal("subscriptions", limit)]);
                    }
                }
            }
            _ => None,
        };
        let mut responses = self.state.graphql.run_stream(admitted, service, self.viewer);
        while let Some(response) = responses.next().await {
            if never_ran(&response) {
                return error_message(self.id, &response.errors);
            }
            if response.errors.iter().any(|e| code_of(e) == Some(code::SLOW_SUBSCRIBER)) {
                let close = Close(close::TRY_AGAIN_LATER, "Subscriber too slow; resume with after");
                let _ = self.events.send(Event::Close(close)).await;
                break;
            }
            if self.events.send(Event::Send(next_message(self.id, &response))).await.is_err() {
                break;
            }
        }
        text_message(&json!({ "type": "complete", "id": self.id }))
    }
}

/// One of a connection's subscription places, given back when dropped.
struct Slot<'a>(&'a AtomicUsize);

impl<'a> Slot<'a> {
    fn take(taken: &'a AtomicUsize, limit: usize) -> Option<Self> {
        let claimed = taken
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| (n < limit).then_some(n + 1));
        claimed.ok().map(|_| Slot(taken))
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::AcqRel);
    }
}

fn next_message(id: &str, response: &Response) -> Message {
    text_message(&json!({ "type": "next", "id": id, "payload": response }))
}

fn error_message(id: &str, errors: &[ServerError]) -> Message {
    text_message(&json!({ "type": "error", "id": id, "payload": errors }))
}

fn text_message(value: &Value) -> Message {
    Message::text(value.to_string())
}

fn close_frame(Close(code, reason): Close) -> Message {
    Message::Close(Some(CloseFrame { code, reason: reason.into() }))
}

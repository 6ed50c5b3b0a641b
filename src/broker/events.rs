//! Events between instances: each publishes what it commits to one fanout exchange and reads
//! everyone's from a queue of its own (exclusive, deleted with its connection), so there is one
//! broker consumer per instance however many subscribers it serves.

use futures_util::StreamExt;
use lapin::options::{
    BasicConsumeOptions, BasicPublishOptions, ExchangeDeclareOptions, QueueBindOptions,
    QueueDeclareOptions,
};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, ExchangeKind};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::link::{Link, LinkStatus};
use crate::domain::event::{EventParts, FollowEvent};

/// The exchange every instance publishes to and reads from.
const EXCHANGE: &str = "followgraph.events";

/// Groups of events waiting to be published while the broker is away, or to be handed out
/// here; past this, new ones are dropped (the catch-up polls find them in the outbox).
const QUEUED: usize = 10_000;

/// Other instances' events, as they arrive.
pub(crate) type Inbound = mpsc::Receiver<Vec<FollowEvent>>;

/// The link between this instance's events and the other instances'. Dropping it stops it.
#[derive(Debug)]
pub(crate) struct EventBroker {
    outbound: mpsc::Sender<Vec<FollowEvent>>,
    status: LinkStatus,
    task: AbortHandle,
}

impl Drop for EventBroker {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One message: a committed group's events, and which instance committed them.
#[derive(Serialize, Deserialize)]
struct Message {
    origin: u64,
    /// `[user, seq, kind, actor, at_micros]` each.
    events: Vec<[i64; 5]>,
}

impl EventBroker {
    /// Connects to `url` (and reconnects whenever needed); the events other instances commit
    /// come out of the returned queue.
    pub(crate) fn start(url: String) -> (Self, Inbound) {
        let (outbound, queued) = mpsc::channel(QUEUED);
        let (arrived, inbound) = mpsc::channel(QUEUED);
        let status = LinkStatus::default();
        let task = tokio::spawn(run(Link::new(url, "events", status.clone()), queued, arrived));
        (Self { outbound, status, task: task.abort_handle() }, inbound)
    }

    /// Whether the link is connected now.
    pub(crate) fn status(&self) -> LinkStatus {
        self.status.clone()
    }

    /// Publishes a committed group's events, in the background.
    pub(crate) fn publish(&self, events: Vec<FollowEvent>) {
        if self.outbound.try_send(events).is_err() {
            metrics::counter!("broker_dropped_total", "link" => "events").increment(1);
        }
    }
}

async fn run(
    mut link: Link,
    mut queued: mpsc::Receiver<Vec<FollowEvent>>,
    arrived: mpsc::Sender<Vec<FollowEvent>>,
) {
    let origin: u64 = rand::random();
    loop {
        let channel = link.open().await;
        match session(&channel, origin, &mut queued, &arrived).await {
            Ok(Ended::Stopped) => return,
            Ok(Ended::Lost) => {}
            Err(err) => tracing::warn!(error = %err, "broker session failed"),
        }
        link.lost().await;
    }
}

enum Ended {
    /// The service is gone.
    Stopped,
    /// The connection failed.
    Lost,
}

async fn session(
    channel: &Channel,
    origin: u64,
    queued: &mut mpsc::Receiver<Vec<FollowEvent>>,
    arrived: &mpsc::Sender<Vec<FollowEvent>>,
) -> Result<Ended, lapin::Error> {
    let (kind, none) = (ExchangeKind::Fanout, FieldTable::default());
    channel
        .exchange_declare(EXCHANGE.into(), kind, ExchangeDeclareOptions::default(), none.clone())
        .await?;
    let own = QueueDeclareOptions { exclusive: true, auto_delete: true, ..Default::default() };
    let queue = channel.queue_declare("".into(), own, none.clone()).await?;
    let name = queue.name().clone();
    channel
        .queue_bind(
            name.clone(),
            EXCHANGE.into(),
            "".into(),
            QueueBindOptions::default(),
            none.clone(),
        )
        .await?;
    let consume = BasicConsumeOptions { no_ack: true, ..Default::default() };
    let mut consumer = channel.basic_consume(name, "".into(), consume, none).await?;
    loop {
        tokio::select! {
            delivery = consumer.next() => match delivery {
                Some(Ok(delivery)) => {
                    if let Some(events) = decode(&delivery.data, origin) {
                        if arrived.try_send(events).is_err() {
                            metrics::counter!("broker_dropped_total", "link" => "inbound").increment(1);
                        }
                    }
                }
                Some(Err(err)) => return Err(err),
                None => return Ok(Ended::Lost),
            },
            events = queued.recv() => match events {
                Some(events) => {
                    let body = encode(origin, &events);
                    let properties = BasicProperties::default()
                        .with_content_type("application/json".into());
                    channel
                        .basic_publish(EXCHANGE.into(), "".into(), BasicPublishOptions::default(), &body, properties)
                        .await?;
                }
                None => return Ok(Ended::Stopped),
            },
        }
    }
}

fn encode(origin: u64, events: &[FollowEvent]) -> Vec<u8> {
    let events = events
        .iter()
        .map(|e| {
            let EventParts { user, seq, kind, actor, at_micros } = e.parts();
            [user, seq, kind, actor, at_micros]
        })
        .collect();
    serde_json::to_vec(&Message { origin, events }).unwrap_or_default()
}

/// Another instance's events; `None` for this instance's own (already handed out) or a message
/// that is not one of ours.
fn decode(body: &[u8], origin: u64) -> Option<Vec<FollowEvent>> {
    let message: Message = serde_json::from_slice(body).ok()?;
    if message.origin == origin {
        return None;
    }
    let event = |[user, seq, kind, actor, at_micros]: [i64; 5]| {
        FollowEvent::from_parts(EventParts { user, seq, kind, actor, at_micros })
    };
    Some(message.events.into_iter().filter_map(event).collect())
}

//! The legacy IM server's `following notify`: the legacy app emitted it through python-socketio's
//! `KombuManager`, which publishes a JSON message to the fanout exchange `socketio`; every
//! python-socketio server on that broker reads the exchange and emits the event to the room.
//! This sends the same message, so the IM server (and its clients) see no difference.
//!
//! The form is python-socketio's own (`pubsub_manager.py` and `kombu_manager.py`, 5.x, read for
//! this): the exchange declared as KombuManager declares it (fanout, not durable, not
//! auto-deleted; any other flags make RabbitMQ refuse the declaration), a JSON body with
//! `method: "emit"`, the payload as `data` (a bare object, which every 5.x server delivers as
//! the event's one argument), namespace `/`, and the room as a string.

use lapin::options::{BasicPublishOptions, ExchangeDeclareOptions};
use lapin::types::FieldTable;
use lapin::{BasicProperties, Channel, ExchangeKind};
use serde_json::json;
use tokio::sync::mpsc;
use tokio::task::AbortHandle;

use super::link::{Link, LinkStatus};
use crate::domain::ids::UserId;

/// python-socketio's default channel: the exchange KombuManager publishes and listens on.
const EXCHANGE: &str = "socketio";

/// The event the legacy app emitted on each follow.
const EVENT: &str = "following notify";

/// Notices held while the broker is away, published in order once it is back; past this, new
/// ones are dropped (and counted).
const HELD: usize = 100_000;

/// AMQP's "persistent" delivery mode, as kombu sends.
const PERSISTENT: u8 = 2;

/// One `following notify`: the follower, as the legacy app described them, told to the room of
/// the user they followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Notice {
    /// The followed user: the room is their id as a string.
    pub(crate) room: UserId,
    pub(crate) user_id: UserId,
    pub(crate) user_name: String,
    pub(crate) user_photo: Option<String>,
    /// Unix seconds.
    pub(crate) timestamp: i64,
}

/// Publishes notices to the legacy IM server's broker. Dropping it stops it.
#[derive(Debug)]
pub(crate) struct LegacyNotifier {
    queue: mpsc::Sender<Notice>,
    status: LinkStatus,
    task: AbortHandle,
}

impl Drop for LegacyNotifier {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl LegacyNotifier {
    pub(crate) fn start(url: String) -> Self {
        let (queue, held) = mpsc::channel(HELD);
        let status = LinkStatus::default();
        let task = tokio::spawn(run(Link::new(url, "legacy_notify", status.clone()), held));
        Self { queue, status, task: task.abort_handle() }
    }

    /// Whether the link is connected now.
    pub(crate) fn status(&self) -> LinkStatus {
        self.status.clone()
    }

    /// Queues notices for publishing, in order.
    pub(crate) fn notify(&self, notices: Vec<Notice>) {
        for notice in notices {
            if self.queue.try_send(notice).is_err() {
                metrics::counter!("broker_dropped_total", "link" => "legacy_notify").increment(1);
            }
        }
    }
}

async fn run(mut link: Link, mut held: mpsc::Receiver<Notice>) {
    let mut unsent: Option<Notice> = None;
    loop {
        let channel = link.open().await;
        match session(&channel, &mut held, &mut unsent).await {
            Ok(()) => return,
            Err(err) => tracing::warn!(error = %err, "legacy notification not sent; retrying"),
        }
        link.lost().await;
    }
}

/// Publishes notices until the service stops (`Ok`) or the connection fails; a notice that
/// failed is kept in `unsent` and sent first on the next connection.
async fn session(
    channel: &Channel,
    held: &mut mpsc::Receiver<Notice>,
    unsent: &mut Option<Notice>,
) -> Result<(), lapin::Error> {
    let options = ExchangeDeclareOptions::default();
    channel
        .exchange_declare(EXCHANGE.into(), ExchangeKind::Fanout, options, FieldTable::default())
        .await?;
    loop {
        let notice = match unsent.take() {
            Some(notice) => notice,
            None => match held.recv().await {
                Some(notice) => notice,
                None => return Ok(()),
            },
        };
        let body = message(&notice).to_string().into_bytes();
        let properties = BasicProperties::default()
            .with_content_type("application/json".into())
            .with_content_encoding("utf-8".into())
            .with_delivery_mode(PERSISTENT);
        let options = BasicPublishOptions::default();
        let sent = channel.basic_publish(EXCHANGE.into(), "".into(), options, &body, properties);
        if let Err(err) = sent.await {
            *unsent = Some(notice);
            return Err(err);
        }
    }
}

/// The message python-socketio's `PubSubManager.emit` publishes for
/// `emit('following notify', data, room=str(target), namespace='/')`.
fn message(notice: &Notice) -> serde_json::Value {
    json!({
        "method": "emit",
        "event": EVENT,
        "data": {
            "user_id": notice.user_id.get(),
            "user_name": notice.user_name,
            "user_photo": notice.user_photo,
            "timestamp": notice.timestamp,
        },
        "namespace": "/",
        "room": notice.room.to_string(),
        "skip_sid": null,
        "callback": null,
        "host_id": "followgraph",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_message_is_python_socketios_emit_to_the_followed_users_room() {
        let id = |n| UserId::new(n).unwrap();
        let notice = Notice {
            room: id(42),
            user_id: id(7),
            user_name: "Ada".into(),
            user_photo: None,
            timestamp: 1_700_000_000,
        };
        let sent = message(&notice);
        assert_eq!(sent["method"], "emit");
        assert_eq!(sent["event"], "following notify");
        assert_eq!(sent["room"], "42", "a string: python-socketio's rooms are keyed by str");
        assert_eq!(sent["namespace"], "/");
        let data = json!({"user_id": 7, "user_name": "Ada", "user_photo": null, "timestamp": 1_700_000_000});
        assert_eq!(sent["data"], data);
    }
}

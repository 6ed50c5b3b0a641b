//! One connection and channel to the broker, opened again after any failure.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use lapin::{Channel, Connection, ConnectionProperties};

/// How long opening a connection and its channel may take before it counts as failed.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The wait before reopening, doubled after each failure up to [`MAX_BACKOFF`], so that a
/// broker that is down is not hammered and one that is back is found within seconds.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// Why a connection could not be opened.
#[derive(Debug, thiserror::Error)]
enum OpenError {
    #[error("the broker did not answer within {CONNECT_TIMEOUT:?}")]
    TimedOut,
    #[error(transparent)]
    Amqp(#[from] lapin::Error),
}

/// Whether a link is connected now, for readiness reports. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub(crate) struct LinkStatus(Arc<AtomicBool>);

impl LinkStatus {
    pub(crate) fn is_up(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }

    fn set(&self, up: bool, what: &'static str) {
        self.0.store(up, Ordering::Release);
        metrics::gauge!("broker_connected", "link" => what).set(f64::from(u8::from(up)));
    }
}

/// The connection of one use of the broker; `what` names it in logs and metrics.
pub(super) struct Link {
    url: String,
    what: &'static str,
    backoff: Duration,
    connection: Option<Connection>,
    status: LinkStatus,
}

impl Link {
    pub(super) fn new(url: String, what: &'static str, status: LinkStatus) -> Self {
        Self { url, what, backoff: Duration::ZERO, connection: None, status }
    }

    /// A channel on a fresh connection; tries until the broker answers, waiting longer after
    /// each failure.
    pub(super) async fn open(&mut self) -> Channel {
        loop {
            tokio::time::sleep(self.backoff).await;
            match tokio::time::timeout(CONNECT_TIMEOUT, self.connect()).await {
                Ok(Ok(channel)) => {
                    tracing::info!(link = self.what, "broker connected");
                    self.status.set(true, self.what);
                    self.backoff = FIRST_BACKOFF;
                    return channel;
                }
                Ok(Err(err)) => self.failed(&OpenError::from(err)),
                Err(_) => self.failed(&OpenError::TimedOut),
            }
        }
    }

    /// Closes a connection whose channel failed; the next [`Link::open`] opens another.
    pub(super) async fn lost(&mut self) {
        tracing::warn!(link = self.what, "broker connection lost; reconnecting");
        self.status.set(false, self.what);
        if let Some(connection) = self.connection.take() {
            let _ = connection.close(0, "reconnecting".into()).await;
        }
    }

    async fn connect(&mut self) -> Result<Channel, lapin::Error> {
        let properties = ConnectionProperties::default().with_connection_name(self.what.into());
        let connection = Connection::connect(&self.url, properties).await?;
        let channel = connection.create_channel().await?;
        self.connection = Some(connection);
        Ok(channel)
    }

    fn failed(&mut self, err: &OpenError) {
        tracing::warn!(link = self.what, error = %err, "cannot reach the broker");
        self.backoff = (self.backoff * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF);
    }
}

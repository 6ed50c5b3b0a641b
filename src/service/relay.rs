//! Where events go once committed, besides this instance's subscribers: the broker (to the
//! other instances) and the legacy IM server; and the two background tasks of the outbox: the
//! catch-up poll, which finds events that reached no subscriber any other way, and the
//! retention cleanup.

use std::sync::{Arc, Weak};
use std::time::Duration;

use chrono::Utc;

use super::hub::{Hub, HubLimits};
use super::{Service, Shared};
use crate::broker::{EventBroker, Inbound, LegacyNotifier, Notice};
use crate::domain::event::{EventKind, FollowEvent};
use crate::domain::ids::UserId;

/// Viewers asked about in one statement of the catch-up poll.
const POLL_CHUNK: usize = 500;

/// The pause between the retention cleanup's statements, so that it never holds the database
/// for long.
const CLEANUP_PAUSE: Duration = Duration::from_millis(50);

/// How events travel; the defaults are in `config.rs`, the reasons in docs/events.md.
#[derive(Debug, Clone)]
pub(crate) struct EventSettings {
    pub(crate) hub: HubLimits,
    /// How often the outbox is asked for events that no other way brought.
    pub(crate) poll: Duration,
    /// How long events are kept for subscribers that resume.
    pub(crate) retention: Duration,
    /// How often the retention cleanup runs.
    pub(crate) cleanup: Duration,
}

/// The broker links events go out on (made in `app.rs`, which reports their state).
#[derive(Debug, Default)]
pub(crate) struct EventLinks {
    /// Between instances, with the events that arrive from the others.
    pub(crate) broker: Option<(EventBroker, Inbound)>,
    /// To the legacy IM server.
    pub(crate) notifier: Option<LegacyNotifier>,
}

/// The event machinery of one service.
#[derive(Debug)]
pub(super) struct Events {
    pub(super) hub: Hub,
    broker: Option<EventBroker>,
    notifier: Option<LegacyNotifier>,
}

impl Events {
    /// The hub, and the links with what arrives on them handed out; must run on a tokio
    /// runtime.
    pub(super) fn start(settings: &EventSettings, links: EventLinks) -> Self {
        let hub = Hub::new(settings.hub);
        let broker = links.broker.map(|(broker, inbound)| {
            tokio::spawn(hand_out_arrivals(hub.clone(), inbound));
            broker
        });
        Self { hub, broker, notifier: links.notifier }
    }

    /// Sends a committed group's events to the other instances and the legacy IM server, in
    /// the background.
    pub(super) fn relay(&self, service: &Service, events: Vec<FollowEvent>) {
        if self.notifier.is_some() {
            let service = service.clone();
            let followed = events.clone();
            tokio::spawn(async move { service.notify_legacy(&followed).await });
        }
        if let Some(broker) = &self.broker {
            broker.publish(events);
        }
    }
}

impl Service {
    /// The legacy `following notify` of each follow, with the follower's name and photo as the
    /// legacy app sent them (from `user_basic`).
    async fn notify_legacy(&self, events: &[FollowEvent]) {
        let Some(notifier) = &self.shared.events.notifier else { return };
        let followed = || events.iter().filter(|e| e.event.kind == EventKind::Followed);
        let actors: Vec<UserId> = followed().map(|e| e.event.actor).collect();
        let profiles = match self.users(&actors).await {
            Ok(profiles) => profiles,
            Err(err) => {
                tracing::warn!(error = %err, "legacy notifications not sent: profiles unavailable");
                return;
            }
        };
        let notices = followed()
            .filter_map(|e| {
                let actor = profiles.get(&e.event.actor)?;
                Some(Notice {
                    room: e.event.user,
                    user_id: actor.id,
                    user_name: actor.name.clone(),
                    user_photo: actor.photo.clone(),
                    timestamp: e.event.at.timestamp(),
                })
            })
            .collect();
        notifier.notify(notices);
    }
}

/// Hands out the events other instances committed, as the broker brings them; ends with the
/// broker.
async fn hand_out_arrivals(hub: Hub, mut inbound: Inbound) {
    while let Some(events) = inbound.recv().await {
        hub.hand_out(&events);
    }
}

/// Starts the catch-up poll and the retention cleanup; each ends once the service is dropped.
pub(super) fn start_tasks(shared: &Arc<Shared>, settings: &EventSettings) {
    tokio::spawn(catch_up(Arc::downgrade(shared), settings.poll));
    tokio::spawn(clean_up(Arc::downgrade(shared), settings.retention, settings.cleanup));
}

/// Every `every`, asks the outbox for the newest event of each viewer with subscribers here
/// and hands out those the hub has not: committed by an instance whose broker message was lost
/// (or that has no broker), or by one that crashed before publishing.
async fn catch_up(shared: Weak<Shared>, every: Duration) {
    loop {
        tokio::time::sleep(every).await;
        let Some(service) = Service::upgrade(&shared) else { return };
        let watched = service.shared.events.hub.watched();
        for chunk in watched.chunks(POLL_CHUNK) {
            if let Err(err) = service.catch_up_chunk(chunk).await {
                tracing::debug!(error = %err, "event catch-up skipped a round");
                break;
            }
        }
    }
}

impl Service {
    pub(super) fn upgrade(shared: &Weak<Shared>) -> Option<Service> {
        Some(Service { shared: shared.upgrade()?, meter: Default::default() })
    }

    async fn catch_up_chunk(&self, watched: &[(UserId, u64)]) -> Result<(), super::ServiceError> {
        let viewers: Vec<UserId> = watched.iter().map(|&(viewer, _)| viewer).collect();
        let newest = self.round_trip(self.shared.store.last_event_seqs(&viewers)).await?;
        let handed: std::collections::HashMap<UserId, u64> = watched.iter().copied().collect();
        for (viewer, seq) in newest {
            let after = handed.get(&viewer).copied().unwrap_or(0);
            if seq > after {
                let read = self.shared.store.events_after(viewer, after, super::events::EVENT_PAGE);
                let missed = self.round_trip(read).await?;
                self.shared.events.hub.hand_out(&missed);
            }
        }
        Ok(())
    }
}

/// Every `every`, deletes the events older than `retention` in short batches.
async fn clean_up(shared: Weak<Shared>, retention: Duration, every: Duration) {
    let retention = chrono::Duration::from_std(retention).unwrap_or(chrono::Duration::MAX);
    loop {
        tokio::time::sleep(every).await;
        let Some(service) = Service::upgrade(&shared) else { return };
        let before = Utc::now() - retention;
        loop {
            match service.shared.store.drop_old_events(before).await {
                Ok(0) => break,
                Ok(dropped) => metrics::counter!("events_dropped_total").increment(dropped),
                Err(err) => {
                    service.shared.store.note_failure(&err);
                    tracing::warn!(error = %err, "event cleanup failed; next round");
                    break;
                }
            }
            tokio::time::sleep(CLEANUP_PAUSE).await;
        }
    }
}

//! The subscribers of one instance, by viewer: every event that reaches the instance (committed
//! here, relayed by the broker, found by the catch-up poll) is handed to each subscriber of its
//! user, in memory. Each subscriber has a bounded buffer; one that falls that far behind is cut
//! off rather than let the process grow, and told so.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::sync::mpsc;

use super::ServiceError;
use crate::domain::event::FollowEvent;
use crate::domain::ids::UserId;

/// Limits of the hub; the defaults are in `config.rs` and docs/operations.md.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HubLimits {
    /// Subscriptions one viewer may hold on one instance.
    pub(crate) per_viewer: usize,
    /// Events waiting for one subscriber before it is cut off.
    pub(crate) buffer: usize,
}

/// The subscribers of this instance. Cheap to clone.
#[derive(Clone, Debug)]
pub(crate) struct Hub {
    viewers: Arc<Mutex<HashMap<UserId, Watched>>>,
    limits: HubLimits,
}

#[derive(Debug, Default)]
struct Watched {
    subscribers: Vec<Subscriber>,
    /// The highest event number handed out for this viewer, for the catch-up poll.
    handed: u64,
}

#[derive(Debug)]
struct Subscriber {
    id: u64,
    events: mpsc::Sender<FollowEvent>,
    cut_off: Arc<AtomicBool>,
}

/// One subscriber's place in the hub: its events, and its removal when dropped.
pub(crate) struct Membership {
    pub(crate) events: mpsc::Receiver<FollowEvent>,
    cut_off: Arc<AtomicBool>,
    hub: Hub,
    viewer: UserId,
    id: u64,
}

impl Membership {
    /// Whether the hub cut this subscriber off for falling behind.
    pub(crate) fn was_cut_off(&self) -> bool {
        self.cut_off.load(Ordering::Acquire)
    }
}

impl Drop for Membership {
    fn drop(&mut self) {
        metrics::gauge!("event_subscribers").decrement(1.0);
        let mut viewers = self.hub.lock();
        if let Some(watched) = viewers.get_mut(&self.viewer) {
            watched.subscribers.retain(|s| s.id != self.id);
            if watched.subscribers.is_empty() {
                viewers.remove(&self.viewer);
            }
        }
    }
}

impl Hub {
    pub(crate) fn new(limits: HubLimits) -> Self {
        Self { viewers: Arc::default(), limits }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<UserId, Watched>> {
        self.viewers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Adds a subscriber for `viewer`'s events, unless the viewer holds its limit already.
    pub(crate) fn join(&self, viewer: UserId) -> Result<Membership, ServiceError> {
        let (sender, events) = mpsc::channel(self.limits.buffer);
        let cut_off = Arc::new(AtomicBool::new(false));
        let id = rand::random();
        let mut viewers = self.lock();
        let watched = viewers.entry(viewer).or_default();
        if watched.subscribers.len() >= self.limits.per_viewer {
            if watched.subscribers.is_empty() {
                viewers.remove(&viewer);
            }
            return Err(ServiceError::TooManySubscriptions(self.limits.per_viewer));
        }
        watched.subscribers.push(Subscriber { id, events: sender, cut_off: cut_off.clone() });
        drop(viewers);
        metrics::gauge!("event_subscribers").increment(1.0);
        Ok(Membership { events, cut_off, hub: self.clone(), viewer, id })
    }

    /// Hands each event to the subscribers of its user; a subscriber whose buffer is full is
    /// cut off (its stream ends and says why).
    pub(crate) fn hand_out(&self, events: &[FollowEvent]) {
        let mut viewers = self.lock();
        for event in events {
            let Some(watched) = viewers.get_mut(&event.event.user) else { continue };
            watched.handed = watched.handed.max(event.seq);
            watched.subscribers.retain(|s| match s.events.try_send(*event) {
                Ok(()) => true,
                Err(mpsc::error::TrySendError::Full(_)) => {
                    s.cut_off.store(true, Ordering::Release);
                    false
                }
                Err(mpsc::error::TrySendError::Closed(_)) => false,
            });
        }
    }

    /// Each watched viewer with the highest event number handed out for it.
    pub(crate) fn watched(&self) -> Vec<(UserId, u64)> {
        self.lock().iter().map(|(&viewer, w)| (viewer, w.handed)).collect()
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::domain::event::{EventKind, NewEvent};

    fn event(user: i64, seq: u64) -> FollowEvent {
        let id = |n| UserId::new(n).unwrap();
        let event =
            NewEvent { user: id(user), kind: EventKind::Followed, actor: id(9), at: Utc::now() };
        FollowEvent { seq, event }
    }

    fn hub(per_viewer: usize, buffer: usize) -> Hub {
        Hub::new(HubLimits { per_viewer, buffer })
    }

    #[test]
    fn each_subscriber_gets_its_users_events_and_no_one_elses() {
        let hub = hub(4, 8);
        let (mut one, mut two) = (
            hub.join(UserId::new(1).unwrap()).unwrap(),
            hub.join(UserId::new(1).unwrap()).unwrap(),
        );
        let mut other = hub.join(UserId::new(2).unwrap()).unwrap();
        hub.hand_out(&[event(1, 1), event(3, 1), event(1, 2)]);
        for member in [&mut one, &mut two] {
            assert_eq!(member.events.try_recv().unwrap().seq, 1);
            assert_eq!(member.events.try_recv().unwrap().seq, 2);
            assert!(member.events.try_recv().is_err());
        }
        assert!(other.events.try_recv().is_err());
        let mut watched = hub.watched();
        watched.sort();
        assert_eq!(watched, [(UserId::new(1).unwrap(), 2), (UserId::new(2).unwrap(), 0)]);
    }

    #[test]
    fn a_subscriber_whose_buffer_fills_is_cut_off_and_told() {
        let hub = hub(4, 2);
        let mut slow = hub.join(UserId::new(1).unwrap()).unwrap();
        hub.hand_out(&[event(1, 1), event(1, 2), event(1, 3)]);
        assert!(slow.was_cut_off());
        assert_eq!(slow.events.try_recv().unwrap().seq, 1);
        assert_eq!(slow.events.try_recv().unwrap().seq, 2);
        assert!(matches!(slow.events.try_recv(), Err(mpsc::error::TryRecvError::Disconnected)));
    }

    #[test]
    fn a_viewer_holds_at_most_its_limit_and_a_leaving_subscriber_frees_a_place() {
        let hub = hub(2, 8);
        let viewer = UserId::new(1).unwrap();
        let first = hub.join(viewer).unwrap();
        let _second = hub.join(viewer).unwrap();
        assert!(matches!(hub.join(viewer), Err(ServiceError::TooManySubscriptions(2))));
        drop(first);
        assert!(hub.join(viewer).is_ok());
    }
}

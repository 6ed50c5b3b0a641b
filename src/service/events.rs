//! Follow events for their users (SPEC §10): announced once their group has committed, and
//! delivered to subscriptions in order, each exactly once, whatever instance took the write.
//!
//! The outbox (`followgraph_events`) is the truth; everything else is a way to hear of it
//! sooner. A subscription joins this instance's hub first, then reads the outbox from where its
//! client left off, then takes events as they are handed out: committed here, relayed by the
//! broker from another instance, or found by the catch-up poll (`relay.rs`). Events about one
//! user are numbered in commit order, so a subscription drops what it has already delivered and,
//! on seeing a number skipped, reads the missing ones from the outbox, where they are, since
//! they committed first. See docs/events.md.

use std::collections::VecDeque;

use futures_util::stream::{self, Stream};

use super::hub::Membership;
use super::{Service, ServiceError};
use crate::domain::event::FollowEvent;
use crate::domain::ids::UserId;

/// Most events one read of the outbox returns.
pub(super) const EVENT_PAGE: usize = 100;

impl Service {
    /// `viewer`'s events after number `after`, or from now on when `None`; endless until the
    /// subscriber falls too far behind (then an error ends it) or the service stops.
    pub(crate) async fn follow_events(
        &self,
        viewer: UserId,
        after: Option<u64>,
    ) -> Result<impl Stream<Item = Result<FollowEvent, ServiceError>> + use<>, ServiceError> {
        let membership = self.shared.events.hub.join(viewer)?;
        let newest = self.newest_event(viewer).await?;
        let last = match after {
            None => newest,
            Some(after) if after <= newest => after,
            Some(_) => return Err(ServiceError::AfterNewestEvent),
        };
        let subscription = Subscription {
            service: self.clone(),
            viewer,
            last,
            membership,
            backlog: VecDeque::new(),
            behind: last < newest,
            held: None,
        };
        // An error ends the subscription: nothing after it would be in order.
        let next = |s: Option<Subscription>| async move {
            let mut s = s?;
            match s.next().await? {
                Ok(event) => Some((Ok(event), Some(s))),
                Err(err) => Some((Err(err), None)),
            }
        };
        Ok(stream::unfold(Some(subscription), next))
    }

    /// The number of `viewer`'s newest event, 0 when there is none.
    async fn newest_event(&self, viewer: UserId) -> Result<u64, ServiceError> {
        let found = self.round_trip(self.shared.store.last_event_seqs(&[viewer])).await?;
        Ok(found.first().map_or(0, |&(_, seq)| seq))
    }

    /// Hands a committed group's events to this instance's subscribers and to the broker.
    pub(super) async fn announce(&self, events: Vec<FollowEvent>) {
        if events.is_empty() {
            return;
        }
        self.shared.events.hub.hand_out(&events);
        self.shared.events.relay(self, events);
    }
}

/// One subscription's place in its user's numbering.
struct Subscription {
    service: Service,
    viewer: UserId,
    /// The number of the last event delivered (or the one to resume after).
    last: u64,
    membership: Membership,
    /// Events read from the outbox, to deliver before anything else.
    backlog: VecDeque<FollowEvent>,
    /// The outbox may hold events after `last` that the backlog does not have yet.
    behind: bool,
    /// An event handed out past a gap, kept until the outbox has filled the gap.
    held: Option<FollowEvent>,
}

impl Subscription {
    /// The next event in order; `None` when the hub let the subscription go.
    async fn next(&mut self) -> Option<Result<FollowEvent, ServiceError>> {
        loop {
            if let Some(event) = self.backlog.pop_front() {
                if event.seq > self.last {
                    self.last = event.seq;
                    return Some(Ok(event));
                }
                continue;
            }
            if self.behind {
                if let Err(err) = self.read_outbox().await {
                    return Some(Err(err));
                }
                continue;
            }
            let event = match self.membership.events.recv().await {
                Some(event) => event,
                None if self.membership.was_cut_off() => {
                    return Some(Err(ServiceError::SlowSubscriber));
                }
                None => return None,
            };
            if event.seq == self.last + 1 {
                self.backlog.push_back(event);
            } else if event.seq > self.last {
                self.behind = true;
                self.held = Some(event);
            }
        }
    }

    /// Reads the next page of the outbox after `last`; once it has read all there is, the
    /// event held past a gap follows (it is there too, unless retention dropped it).
    async fn read_outbox(&mut self) -> Result<(), ServiceError> {
        let store = &self.service.shared.store;
        let read = store.events_after(self.viewer, self.last, EVENT_PAGE);
        let read = self.service.round_trip(read).await?;
        self.behind = read.len() == EVENT_PAGE;
        self.backlog.extend(read);
        if !self.behind {
            self.backlog.extend(self.held.take());
        }
        Ok(())
    }
}

//! Follow events (SPEC §10): what a user is told of, numbered per user in commit order.

use chrono::{DateTime, Utc};

use super::ids::UserId;
use super::relation::{Relation, RelationChange, RequestChange, RequestStep};

/// What happened to the user an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EventKind {
    /// The actor started following the user.
    Followed,
    /// The actor asked to follow the user, whose account is locked (SPEC §14).
    FollowRequested,
    /// The actor accepted the user's request: the user now follows the actor.
    FollowRequestAccepted,
}

impl EventKind {
    /// The stored code (`followgraph_events.kind`).
    pub(crate) fn code(self) -> i16 {
        match self {
            EventKind::Followed => 1,
            EventKind::FollowRequested => 2,
            EventKind::FollowRequestAccepted => 3,
        }
    }

    /// Reads a stored code; `None` for a code this build does not know (written by a newer one).
    pub(crate) fn from_code(code: i16) -> Option<Self> {
        match code {
            1 => Some(EventKind::Followed),
            2 => Some(EventKind::FollowRequested),
            3 => Some(EventKind::FollowRequestAccepted),
            _ => None,
        }
    }
}

/// An event before it is numbered: what the write group records with its rows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct NewEvent {
    /// Whom it is about (who is told).
    pub(crate) user: UserId,
    pub(crate) kind: EventKind,
    pub(crate) actor: UserId,
    pub(crate) at: DateTime<Utc>,
}

impl NewEvent {
    /// The event a committed row change announces, if any: a follow that did not exist before
    /// tells its target. Unfollows and blocks are never announced.
    pub(crate) fn of_change(change: &RelationChange) -> Option<Self> {
        let followed = change.to == Relation::Follow && change.from != Relation::Follow;
        followed.then_some(Self {
            user: change.target,
            kind: EventKind::Followed,
            actor: change.user,
            at: change.at,
        })
    }

    /// The event a committed request change announces, if any: a new request tells its target,
    /// an acceptance tells the requester. A request that ends otherwise is not announced.
    pub(crate) fn of_request(change: &RequestChange) -> Option<Self> {
        let (user, kind, actor) = match change.step {
            RequestStep::Opened => (change.target, EventKind::FollowRequested, change.requester),
            RequestStep::Accepted => {
                (change.requester, EventKind::FollowRequestAccepted, change.target)
            }
            RequestStep::Closed => return None,
        };
        Some(Self { user, kind, actor, at: change.at })
    }
}

/// A recorded event. `seq` numbers the events about one user 1, 2, 3 … in the order their
/// transactions committed, so a subscriber knows both the order and whether it missed one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct FollowEvent {
    pub(crate) seq: u64,
    pub(crate) event: NewEvent,
}

/// An event as it is stored and sent: ids, numbers and microseconds since the Unix epoch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct EventParts {
    pub(crate) user: i64,
    pub(crate) seq: i64,
    pub(crate) kind: i64,
    pub(crate) actor: i64,
    pub(crate) at_micros: i64,
}

impl FollowEvent {
    /// The stored or sent form.
    pub(crate) fn parts(&self) -> EventParts {
        EventParts {
            user: self.event.user.get(),
            seq: i64::try_from(self.seq).unwrap_or(i64::MAX),
            kind: i64::from(self.event.kind.code()),
            actor: self.event.actor.get(),
            at_micros: self.event.at.timestamp_micros(),
        }
    }

    /// Reads the stored or sent form; `None` for anything this build would not have written.
    pub(crate) fn from_parts(parts: EventParts) -> Option<Self> {
        let event = NewEvent {
            user: UserId::new(parts.user).ok()?,
            kind: EventKind::from_code(i16::try_from(parts.kind).ok()?)?,
            actor: UserId::new(parts.actor).ok()?,
            at: DateTime::from_timestamp_micros(parts.at_micros)?,
        };
        Some(Self { seq: u64::try_from(parts.seq).ok().filter(|&s| s > 0)?, event })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(from: Relation, to: Relation) -> RelationChange {
        let id = |n| UserId::new(n).unwrap();
        let at = DateTime::from_timestamp_micros(1_700_000_000_123_456).unwrap();
        RelationChange { user: id(1), target: id(2), from, to, at }
    }

    #[test]
    fn only_a_new_follow_is_announced_to_its_target() {
        let event = NewEvent::of_change(&change(Relation::None, Relation::Follow)).unwrap();
        assert_eq!((event.user.get(), event.actor.get()), (2, 1));
        assert_eq!(event.kind, EventKind::Followed);
        let recorded = FollowEvent { seq: 7, event };
        assert_eq!(FollowEvent::from_parts(recorded.parts()), Some(recorded));
        for (from, to) in [
            (Relation::Follow, Relation::Follow),
            (Relation::Follow, Relation::None),
            (Relation::None, Relation::Blacklist),
            (Relation::Follow, Relation::Blacklist),
        ] {
            assert_eq!(NewEvent::of_change(&change(from, to)), None, "{from:?} -> {to:?}");
        }
    }

    #[test]
    fn a_request_tells_its_target_and_an_acceptance_the_requester() {
        let id = |n| UserId::new(n).unwrap();
        let at = DateTime::from_timestamp_micros(1_700_000_000_000_000).unwrap();
        let request = |step| RequestChange { requester: id(1), target: id(2), step, at };
        let opened = NewEvent::of_request(&request(RequestStep::Opened)).unwrap();
        assert_eq!((opened.user, opened.actor), (id(2), id(1)));
        assert_eq!(opened.kind, EventKind::FollowRequested);
        let accepted = NewEvent::of_request(&request(RequestStep::Accepted)).unwrap();
        assert_eq!((accepted.user, accepted.actor), (id(1), id(2)));
        assert_eq!(accepted.kind, EventKind::FollowRequestAccepted);
        assert_eq!(NewEvent::of_request(&request(RequestStep::Closed)), None);
        for event in [opened, accepted] {
            let recorded = FollowEvent { seq: 3, event };
            assert_eq!(FollowEvent::from_parts(recorded.parts()), Some(recorded));
        }
    }
}

//! Follow events (SPEC §10): what a user is told of, numbered per user in commit order.

use chrono::{DateTime, Utc};

use super::ids::UserId;
use super::relation::{Relation, RelationChange};

/// What happened to the user an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum EventKind {
    /// The actor started following the user.
    Followed,
}

impl EventKind {
    /// The stored code (`followgraph_events.kind`).
    pub(crate) fn code(self) -> i16 {
        match self {
            EventKind::Followed => 1,
        }
    }

    /// Reads a stored code; `None` for a code this build does not know (written by a newer one).
    pub(crate) fn from_code(code: i16) -> Option<Self> {
        match code {
            1 => Some(EventKind::Followed),
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
}

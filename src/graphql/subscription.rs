//! Subscription root: a viewer's follow events, live over `/graphql/ws` (SPEC §10).

use async_graphql::{Context, Enum, ErrorExtensions, Object, Result, Subscription, ID};
use chrono::{DateTime, Utc};
use futures_util::{Stream, StreamExt};

use super::context;
use super::error::bad_input;
use super::prefetch;
use super::user::User;
use super::viewer::require_viewer;
use crate::domain::event::{self, FollowEvent as Recorded};
use crate::domain::ids::UserId;
use crate::service::{Service, ServiceError};

pub(crate) struct SubscriptionRoot;

#[Subscription(name = "Subscription")]
impl SubscriptionRoot {
    /// Events about the viewer, in order, each once: from now on, or after the event `after`
    /// (a reconnecting client passes the last id it saw and first gets what it missed; events
    /// are kept at least 24 hours; `"0"` asks for every one kept). Needs a viewer.
    async fn follow_events(
        &self,
        ctx: &Context<'_>,
        after: Option<ID>,
    ) -> Result<impl Stream<Item = Result<FollowEvent>> + use<>> {
        let viewer = require_viewer(ctx)?;
        let after = after.map(|id| event_number(&id)).transpose()?;
        let service = context::state::<Service>(ctx)?;
        let events = service.follow_events(viewer, after).await.map_err(|e| e.extend())?;
        Ok(events.map(|event| event.map(FollowEvent).map_err(|e| e.extend())))
    }
}

/// An event id: the event's number among its user's events, as a decimal string (0: before
/// the first).
fn event_number(id: &ID) -> Result<u64> {
    id.parse::<u64>()
        .ok()
        .filter(|_| !id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()))
        .ok_or_else(|| bad_input("`after` is not an event id."))
}

/// Something that happened to the viewer.
pub(crate) struct FollowEvent(Recorded);

/// What happened.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "FollowEventKind")]
pub(crate) enum Kind {
    /// `actor` started following the viewer.
    Followed,
    /// `actor` asked to follow the viewer, whose account is locked.
    FollowRequested,
    /// `actor` accepted the viewer's request: the viewer now follows `actor`.
    FollowRequestAccepted,
}

#[Object]
impl FollowEvent {
    /// Grows with each event about the viewer; pass it as `after` to resume after this one.
    async fn id(&self) -> ID {
        ID(self.0.seq.to_string())
    }

    async fn kind(&self) -> Kind {
        match self.0.event.kind {
            event::EventKind::Followed => Kind::Followed,
            event::EventKind::FollowRequested => Kind::FollowRequested,
            event::EventKind::FollowRequestAccepted => Kind::FollowRequestAccepted,
        }
    }

    /// Who did it.
    async fn actor(&self, ctx: &Context<'_>) -> Result<User> {
        let actor: UserId = self.0.event.actor;
        prefetch::user(ctx, actor).await?.ok_or_else(|| ServiceError::UnknownUser(actor).extend())
    }

    /// When it happened (the follow's or the request's time).
    async fn at(&self) -> DateTime<Utc> {
        self.0.event.at
    }
}

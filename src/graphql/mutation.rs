//! Mutation root: follow and unfollow, each a thin call into the service layer.

use async_graphql::{Context, ErrorExtensions, Object, Result, SimpleObject, ID};

use super::input;
use super::query::load_user;
use super::user::User;
use super::viewer::require_viewer;
use crate::domain::ids::UserId;
use crate::service::{Action, Service, ServiceError};

pub struct MutationRoot;

/// The outcome of a follow or unfollow: the target and its state after the change.
#[derive(SimpleObject)]
pub struct FollowPayload {
    /// The target's id, as given.
    target: ID,
    /// The target user, with counts and flags as they are after the change.
    user: User,
}

#[Object(name = "Mutation")]
impl MutationRoot {
    /// The viewer follows `target`. Repeating it changes nothing and succeeds.
    /// Errors: BAD_USER_INPUT (self, bad id), NOT_FOUND, FORBIDDEN (a block either way).
    async fn follow_user(&self, ctx: &Context<'_>, target: ID) -> Result<FollowPayload> {
        act(ctx, Action::Follow, &target).await
    }

    /// The viewer stops following `target`. Repeating it changes nothing and succeeds.
    async fn unfollow_user(&self, ctx: &Context<'_>, target: ID) -> Result<FollowPayload> {
        act(ctx, Action::Unfollow, &target).await
    }
}

async fn act(ctx: &Context<'_>, action: Action, target: &ID) -> Result<FollowPayload> {
    let viewer = require_viewer(ctx)?;
    let id = input::user_id(target)?;
    let service = ctx.data::<Service>()?;
    service
        .apply(action, viewer, id)
        .await
        .map_err(|e| e.extend())?;
    let user = load_user(ctx, id).await?.ok_or_else(|| unknown(id))?;
    Ok(FollowPayload {
        target: ID(id.to_string()),
        user,
    })
}

fn unknown(id: UserId) -> async_graphql::Error {
    ServiceError::UnknownUser(id).extend()
}

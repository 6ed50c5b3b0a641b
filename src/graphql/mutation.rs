//! Mutation root: follow, unfollow, block, unblock and remove a follower, each a thin call into
//! the service layer.

use async_graphql::{ComplexObject, Context, ErrorExtensions, Object, Result, SimpleObject, ID};

use super::context;
use super::input;
use super::prefetch;
use super::user::User;
use super::viewer::require_viewer;
use crate::domain::ids::UserId;
use crate::service::{Action, Service, ServiceError};

pub(crate) struct MutationRoot;

/// The outcome of a follow or unfollow: the target and its state after the change.
#[derive(SimpleObject)]
#[graphql(complex)]
pub(crate) struct FollowPayload {
    /// The target's id.
    target: ID,
    #[graphql(skip)]
    id: UserId,
}

#[ComplexObject]
impl FollowPayload {
    /// The target user, with counts and flags as they are after the change.
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        target_user(ctx, self.id).await
    }
}

/// The outcome of a block or unblock: the target and its state after the change.
#[derive(SimpleObject)]
#[graphql(complex)]
pub(crate) struct BlockPayload {
    /// The target's id.
    target: ID,
    #[graphql(skip)]
    id: UserId,
}

#[ComplexObject]
impl BlockPayload {
    /// The target user, with counts and flags as they are after the change.
    async fn user(&self, ctx: &Context<'_>) -> Result<User> {
        target_user(ctx, self.id).await
    }
}

#[Object(name = "Mutation")]
impl MutationRoot {
    /// The viewer follows `target`. Repeating it changes nothing and succeeds.
    /// Errors: BAD_USER_INPUT (self, bad id), NOT_FOUND, FORBIDDEN (a block either way).
    async fn follow_user(&self, ctx: &Context<'_>, target: ID) -> Result<FollowPayload> {
        let (target, id) = act(ctx, Action::Follow, &target).await?;
        Ok(FollowPayload { target, id })
    }

    /// The viewer stops following `target`. Repeating it changes nothing and succeeds.
    async fn unfollow_user(&self, ctx: &Context<'_>, target: ID) -> Result<FollowPayload> {
        let (target, id) = act(ctx, Action::Unfollow, &target).await?;
        Ok(FollowPayload { target, id })
    }

    /// The viewer blocks (blacklists) `target`: any follow between the two ends, both ways, and
    /// `target` cannot follow the viewer until unblocked. Repeating it changes nothing.
    async fn block_user(&self, ctx: &Context<'_>, target: ID) -> Result<BlockPayload> {
        let (target, id) = act(ctx, Action::Block, &target).await?;
        Ok(BlockPayload { target, id })
    }

    /// The viewer lifts a block on `target`; no follow comes back. Repeating it changes nothing.
    async fn unblock_user(&self, ctx: &Context<'_>, target: ID) -> Result<BlockPayload> {
        let (target, id) = act(ctx, Action::Unblock, &target).await?;
        Ok(BlockPayload { target, id })
    }

    /// `target` stops following the viewer, without a block: they may follow again. The
    /// viewer's own follow of `target`, if any, stays. Repeating it changes nothing.
    /// Errors: BAD_USER_INPUT (self, bad id), NOT_FOUND.
    async fn remove_follower(&self, ctx: &Context<'_>, target: ID) -> Result<FollowPayload> {
        let (target, id) = act(ctx, Action::RemoveFollower, &target).await?;
        Ok(FollowPayload { target, id })
    }
}

/// Applies the action; the target is loaded only if the client asks for `user`.
async fn act(ctx: &Context<'_>, action: Action, target: &ID) -> Result<(ID, UserId)> {
    let viewer = require_viewer(ctx)?;
    let id = input::user_id(target)?;
    let service = context::state::<Service>(ctx)?;
    service.apply(action, viewer, id).await.map_err(|e| e.extend())?;
    Ok((ID(id.to_string()), id))
}

/// The target as it is after the action (it existed when the action was applied).
async fn target_user(ctx: &Context<'_>, id: UserId) -> Result<User> {
    prefetch::user(ctx, id).await?.ok_or_else(|| ServiceError::UnknownUser(id).extend())
}

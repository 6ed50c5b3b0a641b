//! Mutation root: follow, unfollow, block, unblock, the relationship features of SPEC §14
//! (remove a follower, a locked account and its follow requests), each a thin call into the
//! service layer.

use async_graphql::{
    ComplexObject, Context, Enum, ErrorExtensions, Object, Result, SimpleObject, ID,
};

use super::context;
use super::error::unauthenticated;
use super::input;
use super::prefetch;
use super::user::{ListVisibility, User};
use super::viewer::require_viewer;
use crate::domain::ids::UserId;
use crate::domain::relation;
use crate::service::{Action, Service, ServiceError};

pub(crate) struct MutationRoot;

/// The outcome of a follow or unfollow: the target and its state after the change.
#[derive(SimpleObject)]
#[graphql(complex)]
pub(crate) struct FollowPayload {
    /// The target's id.
    target: ID,
    /// Where the follow the mutation acted on stands now: the viewer's follow of the target
    /// (`followUser`, `unfollowUser`, `cancelFollowRequest`), or the target's follow of the
    /// viewer (`removeFollower`, `acceptFollowRequest`, `rejectFollowRequest`).
    state: FollowState,
    #[graphql(skip)]
    id: UserId,
}

/// Where one user's follow of another stands.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub(crate) enum FollowState {
    /// The follow exists.
    Following,
    /// The followee's account is locked and has not answered the request yet.
    Requested,
    /// Neither a follow nor a pending request.
    None,
}

impl From<relation::FollowState> for FollowState {
    fn from(state: relation::FollowState) -> Self {
        match state {
            relation::FollowState::Following => FollowState::Following,
            relation::FollowState::Requested => FollowState::Requested,
            relation::FollowState::None => FollowState::None,
        }
    }
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
    /// The viewer follows `target`; if `target` is locked, the viewer asks to (`state`
    /// REQUESTED) and follows once `target` accepts. Repeating it changes nothing and succeeds.
    /// Errors: BAD_USER_INPUT (self, bad id), NOT_FOUND, FORBIDDEN (a block either way).
    async fn follow_user(&self, ctx: &Context<'_>, target: ID) -> Result<FollowPayload> {
        act_on_follow(ctx, Action::Follow, &target).await
    }

    /// The viewer stops following `target`, or withdraws a pending request to. Repeating it
    /// changes nothing and succeeds.
    async fn unfollow_user(&self, ctx: &Context<'_>, target: ID) -> Result<FollowPayload> {
        act_on_follow(ctx, Action::Unfollow, &target).await
    }

    /// The viewer blocks (blacklists) `target`: any follow between the two ends, both ways, and
    /// `target` cannot follow the viewer until unblocked. Repeating it changes nothing.
    async fn block_user(&self, ctx: &Context<'_>, target: ID) -> Result<BlockPayload> {
        let (target, id, _) = act(ctx, Action::Block, &target).await?;
        Ok(BlockPayload { target, id })
    }

    /// The viewer lifts a block on `target`; no follow comes back. Repeating it changes nothing.
    async fn unblock_user(&self, ctx: &Context<'_>, target: ID) -> Result<BlockPayload> {
        let (target, id, _) = act(ctx, Action::Unblock, &target).await?;
        Ok(BlockPayload { target, id })
    }

    /// `target` stops following the viewer, without a block: they may follow again. The
    /// viewer's own follow of `target`, if any, stays. Repeating it changes nothing.
    /// Errors: BAD_USER_INPUT (self, bad id), NOT_FOUND.
    async fn remove_follower(&self, ctx: &Context<'_>, target: ID) -> Result<FollowPayload> {
        act_on_follow(ctx, Action::RemoveFollower, &target).await
    }

    /// Locks or unlocks the viewer's account. While locked, a follow of the viewer is a request
    /// that the viewer accepts or rejects. Unlocking leaves pending requests to be answered;
    /// a requester who follows again then follows at once.
    async fn set_account_locked(&self, ctx: &Context<'_>, locked: bool) -> Result<User> {
        let viewer = require_viewer(ctx)?;
        let service = context::state::<Service>(ctx)?;
        service.set_locked(viewer, locked).await.map_err(|e| e.extend())?;
        viewer_user(ctx, viewer).await
    }

    /// Sets who may see the viewer's followers and following lists and their counts: everyone,
    /// the viewer's followers, or the viewer alone. Others then get FORBIDDEN for the hidden
    /// lists, their counts and `knownFollowers`.
    async fn set_list_visibility(
        &self,
        ctx: &Context<'_>,
        followers: ListVisibility,
        following: ListVisibility,
    ) -> Result<User> {
        let viewer = require_viewer(ctx)?;
        let service = context::state::<Service>(ctx)?;
        let set = service.set_list_visibility(viewer, followers.into(), following.into());
        set.await.map_err(|e| e.extend())?;
        viewer_user(ctx, viewer).await
    }

    /// `target`'s pending request becomes a follow of the viewer (with its FOLLOWED event to the
    /// viewer and a FOLLOW_REQUEST_ACCEPTED event to `target`). Repeating it succeeds.
    /// Errors: BAD_USER_INPUT, NOT_FOUND (no such user, or no request from them).
    async fn accept_follow_request(&self, ctx: &Context<'_>, target: ID) -> Result<FollowPayload> {
        act_on_follow(ctx, Action::AcceptRequest, &target).await
    }

    /// The viewer turns `target`'s pending request down; `target` may ask again. Succeeds when
    /// there is no request.
    async fn reject_follow_request(&self, ctx: &Context<'_>, target: ID) -> Result<FollowPayload> {
        act_on_follow(ctx, Action::RejectRequest, &target).await
    }

    /// The viewer withdraws a pending request to follow `target`. Succeeds when there is none.
    async fn cancel_follow_request(&self, ctx: &Context<'_>, target: ID) -> Result<FollowPayload> {
        act_on_follow(ctx, Action::CancelRequest, &target).await
    }
}

/// Applies an action on a follow and answers with where that follow stands.
async fn act_on_follow(ctx: &Context<'_>, action: Action, target: &ID) -> Result<FollowPayload> {
    let (target, id, state) = act(ctx, action, target).await?;
    Ok(FollowPayload { target, state: state.into(), id })
}

/// Applies the action; the target is loaded only if the client asks for `user`.
async fn act(
    ctx: &Context<'_>,
    action: Action,
    target: &ID,
) -> Result<(ID, UserId, relation::FollowState)> {
    let viewer = require_viewer(ctx)?;
    let id = input::user_id(target)?;
    let service = context::state::<Service>(ctx)?;
    let state = service.apply(action, viewer, id).await.map_err(|e| e.extend())?;
    Ok((ID(id.to_string()), id, state))
}

/// The viewer as they are after a change of their settings.
async fn viewer_user(ctx: &Context<'_>, viewer: UserId) -> Result<User> {
    prefetch::user(ctx, viewer).await?.ok_or_else(unauthenticated)
}

/// The target as it is after the action (it existed when the action was applied).
async fn target_user(ctx: &Context<'_>, id: UserId) -> Result<User> {
    prefetch::user(ctx, id).await?.ok_or_else(|| ServiceError::UnknownUser(id).extend())
}

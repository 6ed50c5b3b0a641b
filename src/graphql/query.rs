//! Query root: the viewer, users by id (also as Relay nodes), the viewer's lists and the
//! follow requests waiting for the viewer.

use async_graphql::{Context, ErrorExtensions, Object, Result, ID};

use super::context;
use super::error::{bad_input, unauthenticated};
use super::input;
use super::node::Node;
use super::paging;
use super::paging::LoadedPage;
use super::prefetch;
use super::user::User;
use super::user::{Total, UserConnection};
use super::viewer::require_viewer;
use crate::domain::ids::UserId;
use crate::domain::page::Side;
use crate::service::Service;

/// Most ids one `users` call may ask for, so that one query cannot ask for the whole table.
const MAX_IDS: usize = 100;

pub(crate) struct QueryRoot;

#[Object(name = "Query")]
impl QueryRoot {
    /// The user the request's token names. Needs a viewer.
    async fn viewer(&self, ctx: &Context<'_>) -> Result<User> {
        let id = require_viewer(ctx)?;
        prefetch::user(ctx, id).await?.ok_or_else(unauthenticated)
    }

    /// A user by id; null when there is none.
    async fn user(&self, ctx: &Context<'_>, id: ID) -> Result<Option<User>> {
        prefetch::user(ctx, input::user_id(&id)?).await
    }

    /// Users by id, in the order asked; null for each id that names nobody. At most 100 ids.
    #[graphql(complexity = "ids.len().max(1) * child_complexity")]
    async fn users(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<User>>> {
        load_users(ctx, &ids).await
    }

    /// Any object by its id (Relay); null when there is none.
    async fn node(&self, ctx: &Context<'_>, id: ID) -> Result<Option<Node>> {
        Ok(prefetch::user(ctx, input::user_id(&id)?).await?.map(Node::User))
    }

    /// Objects by id (Relay), in the order asked; null for each id that names nothing. At most
    /// 100 ids.
    #[graphql(complexity = "ids.len().max(1) * child_complexity")]
    async fn nodes(&self, ctx: &Context<'_>, ids: Vec<ID>) -> Result<Vec<Option<Node>>> {
        let users = load_users(ctx, &ids).await?;
        Ok(users.into_iter().map(|user| user.map(Node::User)).collect())
    }

    /// The viewer's followings, newest follow first. Needs a viewer.
    #[graphql(complexity = "super::paging::cost(first, child_complexity)")]
    async fn following(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<UserConnection> {
        let viewer = require_viewer(ctx)?;
        viewer_list(ctx, viewer, Side::Following, first, after).await
    }

    /// The viewer's followers, newest follow first. Needs a viewer.
    #[graphql(complexity = "super::paging::cost(first, child_complexity)")]
    async fn followers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<UserConnection> {
        let viewer = require_viewer(ctx)?;
        viewer_list(ctx, viewer, Side::Followers, first, after).await
    }

    /// The requests to follow the viewer (a locked account) that wait for an answer, newest
    /// first; `followedAt` is when each was made. Needs a viewer.
    #[graphql(complexity = "super::paging::cost(first, child_complexity)")]
    async fn follow_requests(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<UserConnection> {
        let viewer = require_viewer(ctx)?;
        let request = paging::page_request(first, after)?;
        let service = context::state::<Service>(ctx)?;
        let page = service.follow_requests(viewer, &request).await.map_err(|e| e.extend())?;
        // Requesters are would-be followers; `Total::Requests` makes `totalCount` theirs.
        let page = LoadedPage { owner: viewer, side: Side::Followers, page, request };
        Ok(UserConnection { page, total: Total::Requests, users: None })
    }
}

async fn load_users(ctx: &Context<'_>, ids: &[ID]) -> Result<Vec<Option<User>>> {
    if ids.len() > MAX_IDS {
        return Err(bad_input(format!("At most {MAX_IDS} ids per call.")));
    }
    let ids = input::user_ids(ids)?;
    let field = ctx.field();
    prefetch::users(ctx, &ids, field.selection_set()).await
}

/// A page of the viewer's list, from the service directly: a root field has nothing to batch
/// with but another root field, and the DataLoader's round of scheduling was a tenth of a cached
/// read's CPU.
async fn viewer_list(
    ctx: &Context<'_>,
    viewer: UserId,
    side: Side,
    first: Option<i32>,
    after: Option<String>,
) -> Result<UserConnection> {
    let request = paging::page_request(first, after)?;
    let service = context::state::<Service>(ctx)?;
    let mut pages = service.pages(side, &[viewer], &request).await.map_err(|e| e.extend())?;
    let page = pages.remove(&viewer).unwrap_or_default();
    let page = LoadedPage { owner: viewer, side, page, request };
    Ok(UserConnection { page, total: Total::Counts(None), users: None })
}

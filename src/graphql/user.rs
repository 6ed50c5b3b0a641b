//! The `User` type and the Relay connection of its followings and followers, together because
//! each contains the other. Every list-shaped field goes through the request's DataLoader, so a
//! list of N users costs one query per field kind, not N.

use async_graphql::{Context, ErrorExtensions, Object, Result, SimpleObject, ID};
use chrono::{DateTime, Utc};

use super::context;
use super::loaders::{CountsOf, FlagsOf};
use super::paging::{self, LoadedPage};
use super::viewer::require_viewer;
use crate::domain::page::{Entry, Side};
use crate::domain::user::{FollowCounts, UserProfile, ViewerFlags};

/// A user of the news app, as the legacy user service describes them.
pub(crate) struct User(pub UserProfile);

#[Object]
impl User {
    /// The user's id (a positive integer, as a string).
    pub(super) async fn id(&self) -> ID {
        ID(self.0.id.to_string())
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.0.name
    }

    /// Profile photo URL or path, when the user has one.
    async fn photo(&self) -> Option<&str> {
        self.0.photo.as_deref()
    }

    /// The users this user follows, newest follow first.
    #[graphql(complexity = "super::paging::cost(first, child_complexity)")]
    async fn following(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<UserConnection> {
        paging::load(ctx, self.0.id, Side::Following, first, after).await.map(UserConnection)
    }

    /// The users who follow this user, newest follow first.
    #[graphql(complexity = "super::paging::cost(first, child_complexity)")]
    async fn followers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<UserConnection> {
        paging::load(ctx, self.0.id, Side::Followers, first, after).await.map(UserConnection)
    }

    /// How many users this user follows; exact at every moment.
    async fn following_count(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(self.counts(ctx).await?.following)
    }

    /// How many users follow this user; exact at every moment.
    async fn followers_count(&self, ctx: &Context<'_>) -> Result<i64> {
        Ok(self.counts(ctx).await?.followers)
    }

    /// Whether the viewer follows this user. Needs a viewer.
    async fn viewer_is_following(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.flags(ctx).await?.viewer_is_following)
    }

    /// Whether this user follows the viewer. Needs a viewer.
    async fn is_following_viewer(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.flags(ctx).await?.is_following_viewer)
    }

    /// Whether the viewer has blocked (blacklisted) this user. Needs a viewer.
    async fn viewer_has_blocked(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.flags(ctx).await?.viewer_has_blocked)
    }
}

impl User {
    async fn counts(&self, ctx: &Context<'_>) -> Result<FollowCounts> {
        let loader = context::loader(ctx)?;
        let counts = loader.load_one(CountsOf(self.0.id)).await.map_err(|e| e.extend())?;
        Ok(counts.unwrap_or_default())
    }

    async fn flags(&self, ctx: &Context<'_>) -> Result<ViewerFlags> {
        require_viewer(ctx)?;
        let loader = context::loader(ctx)?;
        let flags = loader.load_one(FlagsOf(self.0.id)).await.map_err(|e| e.extend())?;
        Ok(flags.unwrap_or_default())
    }
}

/// A page of users, newest follow first.
pub(crate) struct UserConnection(pub(crate) LoadedPage);

/// One user on a page, with where the page may continue from.
#[derive(SimpleObject)]
pub(crate) struct UserEdge {
    /// Opaque position of this entry; pass it as `after` to continue after it.
    cursor: String,
    node: User,
    /// When the follow happened.
    followed_at: DateTime<Utc>,
}

/// Relay page information. Paging is forward only: `hasPreviousPage` is true when the page was
/// asked for with `after`.
#[derive(SimpleObject)]
pub(crate) struct PageInfo {
    has_next_page: bool,
    end_cursor: Option<String>,
    has_previous_page: bool,
    start_cursor: Option<String>,
}

#[Object]
impl UserConnection {
    async fn edges(&self, ctx: &Context<'_>) -> Result<Vec<UserEdge>> {
        let users = self.users(ctx).await?;
        Ok(self
            .0
            .page
            .entries
            .iter()
            .zip(users)
            .filter_map(|(entry, user)| {
                let node = user?;
                let cursor = entry.position().encode();
                Some(UserEdge { cursor, node, followed_at: entry.at })
            })
            .collect())
    }

    async fn nodes(&self, ctx: &Context<'_>) -> Result<Vec<User>> {
        Ok(self.users(ctx).await?.into_iter().flatten().collect())
    }

    async fn page_info(&self) -> PageInfo {
        let cursor = |e: Option<&Entry>| e.map(|e| e.position().encode());
        PageInfo {
            has_next_page: self.0.page.has_next,
            end_cursor: cursor(self.0.page.entries.last()),
            has_previous_page: self.0.has_previous,
            start_cursor: cursor(self.0.page.entries.first()),
        }
    }

    /// The whole list's length, exact at every moment.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let loader = context::loader(ctx)?;
        let counts = loader.load_one(CountsOf(self.0.owner)).await.map_err(|e| e.extend())?;
        let counts = counts.unwrap_or_default();
        Ok(match self.0.side {
            Side::Following => counts.following,
            Side::Followers => counts.followers,
        })
    }
}

impl UserConnection {
    /// The users on the page, in page order; `None` where `user_basic` has no such user.
    async fn users(&self, ctx: &Context<'_>) -> Result<Vec<Option<User>>> {
        let loader = context::loader(ctx)?;
        let ids = self.0.page.entries.iter().map(|e| e.user);
        let found = loader.load_many(ids).await.map_err(|e| e.extend())?;
        Ok(self.0.page.entries.iter().map(|e| found.get(&e.user).cloned().map(User)).collect())
    }
}

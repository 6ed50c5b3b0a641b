//! The `User` type. Its list-shaped fields go through the request's DataLoader, so a list of N
//! users costs one query per field kind, not N.

use async_graphql::{Context, ErrorExtensions, Object, Result, ID};

use super::connection::{self, UserConnection};
use super::context;
use super::loaders::{CountsOf, FlagsOf};
use super::viewer::require_viewer;
use crate::domain::page::Side;
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
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn following(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<UserConnection> {
        connection::load(ctx, self.0.id, Side::Following, first, after).await
    }

    /// The users who follow this user, newest follow first.
    #[graphql(complexity = "super::connection::cost(first, child_complexity)")]
    async fn followers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<UserConnection> {
        connection::load(ctx, self.0.id, Side::Followers, first, after).await
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

//! The `User` type and the Relay connection of its followings and followers, together because
//! each contains the other. Users come whole from [`prefetch`]: a list of N users costs one
//! query per kind of field, not N, and each field answers from what was loaded with its list.

use async_graphql::{
    Context, Enum, ErrorExtensions, Object, Result, SelectionField, SimpleObject, ID,
};
use chrono::{DateTime, Utc};

use std::future::Future;
use std::sync::Arc;

use super::context;
use super::error::null_with;
use super::loaders::{AccessOf, CountsOf, FlagsOf, KnownOf, SettingsOf};
use super::paging::{self, LoadedPage};
use super::prefetch::{self, Known, Loaded};
use super::viewer::require_viewer;
use crate::domain::account::{self, AccountSettings, ListAccess};
use crate::domain::ids::UserId;
use crate::domain::page::{Entry, Side};
use crate::domain::user::{Directions, FollowCounts, UserProfile, ViewerFlags};
use crate::service::{check_list, Service};

/// A user of the news app, as the legacy user service describes them, with what was loaded
/// for the list it came in.
pub(crate) struct User {
    profile: UserProfile,
    known: Arc<Known>,
}

#[Object]
impl User {
    /// The user's id (a positive integer, as a string).
    pub(super) async fn id(&self) -> ID {
        ID(self.profile.id.to_string())
    }

    /// Display name.
    async fn name(&self) -> &str {
        &self.profile.name
    }

    /// Profile photo URL or path, when the user has one.
    async fn photo(&self) -> Option<&str> {
        self.profile.photo.as_deref()
    }

    /// The users this user follows, newest follow first. Null, with FORBIDDEN, when the user
    /// hides the list from the viewer (`followingVisibility`).
    #[graphql(complexity = "super::paging::cost(first, child_complexity)")]
    async fn following(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<UserConnection>> {
        let connection = self.connection(ctx, Side::Following, first, after);
        self.if_visible(ctx, Side::Following, connection).await
    }

    /// The users who follow this user, newest follow first. Null, with FORBIDDEN, when the
    /// user hides the list from the viewer (`followersVisibility`).
    #[graphql(complexity = "super::paging::cost(first, child_complexity)")]
    async fn followers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<UserConnection>> {
        let connection = self.connection(ctx, Side::Followers, first, after);
        self.if_visible(ctx, Side::Followers, connection).await
    }

    /// This user's followers whom the viewer follows ("followed by A, B and 12 others you
    /// follow"), newest follow first; `totalCount` is how many. Needs a viewer; null, with
    /// FORBIDDEN, when the user hides their followers from the viewer.
    #[graphql(complexity = "super::paging::cost(first, child_complexity)")]
    async fn known_followers(
        &self,
        ctx: &Context<'_>,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<Option<UserConnection>> {
        require_viewer(ctx)?;
        let request = paging::page_request(first, after)?;
        let known = async {
            let key = KnownOf { owner: self.user_id(), request };
            let known = context::load_one(ctx, key).await?.unwrap_or_default();
            let (owner, side, page) = (self.user_id(), Side::Followers, known.page);
            let page = LoadedPage { owner, side, page, request };
            Ok(UserConnection { page, total: Total::Known(known.total), users: None })
        };
        self.if_visible(ctx, Side::Followers, known).await
    }

    /// How many users this user follows; exact at every moment. Null, with FORBIDDEN, for a
    /// viewer the list is hidden from.
    async fn following_count(&self, ctx: &Context<'_>) -> Result<Option<i64>> {
        let count = async { Ok(self.counts(ctx).await?.following) };
        self.if_visible(ctx, Side::Following, count).await
    }

    /// How many users follow this user; exact at every moment. Null, with FORBIDDEN, for a
    /// viewer the list is hidden from.
    async fn followers_count(&self, ctx: &Context<'_>) -> Result<Option<i64>> {
        let count = async { Ok(self.counts(ctx).await?.followers) };
        self.if_visible(ctx, Side::Followers, count).await
    }

    /// Whether the viewer follows this user. Needs a viewer.
    async fn viewer_is_following(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.flags(ctx, Directions::OUTGOING).await?.viewer_is_following)
    }

    /// Whether this user follows the viewer. Needs a viewer.
    async fn is_following_viewer(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.flags(ctx, Directions::INCOMING).await?.is_following_viewer)
    }

    /// Whether the viewer has blocked (blacklisted) this user. Needs a viewer.
    async fn viewer_has_blocked(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.flags(ctx, Directions::OUTGOING).await?.viewer_has_blocked)
    }

    /// Whether the viewer's request to follow this (locked) user is pending. Needs a viewer.
    async fn viewer_has_requested_follow(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.flags(ctx, Directions::OUTGOING).await?.viewer_has_requested)
    }

    /// Whether this user approves their followers: a follow of them is a request until they
    /// accept it.
    async fn locked(&self, ctx: &Context<'_>) -> Result<bool> {
        Ok(self.settings(ctx).await?.locked)
    }

    /// Who may see this user's followers and their count.
    async fn followers_visibility(&self, ctx: &Context<'_>) -> Result<ListVisibility> {
        Ok(self.settings(ctx).await?.followers.into())
    }

    /// Who may see the users this user follows and their count.
    async fn following_visibility(&self, ctx: &Context<'_>) -> Result<ListVisibility> {
        Ok(self.settings(ctx).await?.following.into())
    }
}

/// Who may see one of a user's lists and its count; the user always may.
#[derive(Enum, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ListVisibility {
    Everyone,
    /// The user's followers.
    Followers,
    OnlyMe,
}

impl From<account::ListVisibility> for ListVisibility {
    fn from(visibility: account::ListVisibility) -> Self {
        match visibility {
            account::ListVisibility::Everyone => ListVisibility::Everyone,
            account::ListVisibility::Followers => ListVisibility::Followers,
            account::ListVisibility::OnlyMe => ListVisibility::OnlyMe,
        }
    }
}

impl From<ListVisibility> for account::ListVisibility {
    fn from(visibility: ListVisibility) -> Self {
        match visibility {
            ListVisibility::Everyone => account::ListVisibility::Everyone,
            ListVisibility::Followers => account::ListVisibility::Followers,
            ListVisibility::OnlyMe => account::ListVisibility::OnlyMe,
        }
    }
}

impl User {
    pub(super) fn new(profile: UserProfile, known: Arc<Known>) -> Self {
        Self { profile, known }
    }

    fn user_id(&self) -> UserId {
        self.profile.id
    }

    async fn counts(&self, ctx: &Context<'_>) -> Result<FollowCounts> {
        match self.known.counts(self.user_id()) {
            Some(counts) => Ok(counts),
            None => load_counts(ctx, self.user_id()).await,
        }
    }

    async fn flags(&self, ctx: &Context<'_>, needed: Directions) -> Result<ViewerFlags> {
        require_viewer(ctx)?;
        if let Some(flags) = self.known.flags(self.user_id(), needed) {
            return Ok(flags);
        }
        let key = FlagsOf(self.user_id(), Directions::BOTH);
        Ok(context::load_one(ctx, key).await?.unwrap_or_default())
    }

    async fn settings(&self, ctx: &Context<'_>) -> Result<AccountSettings> {
        Ok(context::load_one(ctx, SettingsOf(self.user_id())).await?.unwrap_or_default())
    }

    /// `value` when the viewer may see this user's list of `side` (the service's rule), else
    /// null with FORBIDDEN at the field's path; `value` is not even awaited then.
    async fn if_visible<T>(
        &self,
        ctx: &Context<'_>,
        side: Side,
        value: impl Future<Output = Result<T>>,
    ) -> Result<Option<T>> {
        let access = context::load_one(ctx, AccessOf(self.user_id())).await?;
        match check_list(&access.unwrap_or(ListAccess::NONE), side) {
            Ok(()) => value.await.map(Some),
            Err(hidden) => Ok(null_with(ctx, hidden.extend())),
        }
    }

    async fn connection(
        &self,
        ctx: &Context<'_>,
        side: Side,
        first: Option<i32>,
        after: Option<String>,
    ) -> Result<UserConnection> {
        let page = paging::load(ctx, &self.known, self.user_id(), side, first, after).await?;
        let users = self.known.page_users(side, page.request);
        let total = Total::Counts(self.known.counts(self.user_id()));
        Ok(UserConnection { total, page, users })
    }
}

/// A user's counts through the DataLoader, for a field the look-ahead did not foresee.
async fn load_counts(ctx: &Context<'_>, id: UserId) -> Result<FollowCounts> {
    Ok(context::load_one(ctx, CountsOf(id)).await?.unwrap_or_default())
}

/// A page of users, newest follow (or request) first.
pub(crate) struct UserConnection {
    pub(super) page: LoadedPage,
    pub(super) total: Total,
    /// The page's users, when they were loaded with the owner's list.
    pub(super) users: Option<Arc<Loaded>>,
}

/// Where a connection's `totalCount` comes from.
pub(crate) enum Total {
    /// A follow list: the owner's counts, when they were loaded with the owner.
    Counts(Option<FollowCounts>),
    /// The owner's pending follow requests, counted when asked.
    Requests,
    /// Counted with the page (known followers).
    Known(i64),
}

/// One user on a page, with where the page may continue from.
#[derive(SimpleObject)]
pub(crate) struct UserEdge {
    /// Opaque position of this entry; pass it as `after` to continue after it.
    cursor: String,
    node: User,
    /// When the follow happened (in `followRequests`, when the request was made).
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
        let field = ctx.field();
        let nodes: Vec<_> = field.selection_set().filter(|f| f.name() == "node").collect();
        let users = self.users(ctx, nodes.iter().flat_map(|node| node.selection_set())).await?;
        Ok(self
            .page
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
        let field = ctx.field();
        Ok(self.users(ctx, field.selection_set()).await?.into_iter().flatten().collect())
    }

    async fn page_info(&self) -> PageInfo {
        let cursor = |e: Option<&Entry>| e.map(|e| e.position().encode());
        let entries = &self.page.page.entries;
        PageInfo {
            has_next_page: self.page.page.has_next,
            end_cursor: cursor(entries.last()),
            has_previous_page: self.page.request.after.is_some(),
            start_cursor: cursor(entries.first()),
        }
    }

    /// The whole list's length, exact at every moment.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let counts = match self.total {
            Total::Counts(Some(counts)) => counts,
            Total::Counts(None) => load_counts(ctx, self.page.owner).await?,
            Total::Known(total) => return Ok(total),
            Total::Requests => {
                let service = context::state::<Service>(ctx)?;
                let count = service.follow_request_count(self.page.owner).await;
                return count.map_err(|e| e.extend());
            }
        };
        Ok(match self.page.side {
            Side::Following => counts.following,
            Side::Followers => counts.followers,
        })
    }
}

impl UserConnection {
    /// The users on the page, in page order (`None` for one missing from `user_basic`): loaded
    /// with the owner's list when its selection asked for them, else now, as `fields` asks.
    async fn users<'a>(
        &self,
        ctx: &Context<'_>,
        fields: impl Iterator<Item = SelectionField<'a>>,
    ) -> Result<Vec<Option<User>>> {
        let ids = self.page.page.entries.iter().map(|e| e.user);
        match &self.users {
            Some(loaded) => Ok(ids.map(|id| loaded.user(id)).collect()),
            None => prefetch::users(ctx, &ids.collect::<Vec<_>>(), fields).await,
        }
    }
}

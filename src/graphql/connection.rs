//! Relay connections over a user's followings or followers. The page itself, the users on it and
//! the total all come through the request's DataLoader, so a list of N connections costs the same
//! few round trips as one.

use async_graphql::{Context, ErrorExtensions, Object, Result, SimpleObject};
use chrono::{DateTime, Utc};

use super::context;
use super::error::bad_input;
use super::loaders::{CountsOf, PageOf};
use super::user::User;
use crate::domain::ids::UserId;
use crate::domain::page::{Cursor, Page, PageRequest, Side};
use crate::service::MAX_PAGE;

/// Page size when `first` is not given.
const DEFAULT_FIRST: i32 = 20;

/// A page of users, newest follow first.
pub(crate) struct UserConnection {
    owner: UserId,
    side: Side,
    page: Page,
    has_previous: bool,
}

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

/// The cost of a connection for the complexity limit: its page size times what each entry asks.
pub(crate) fn cost(first: Option<i32>, child_complexity: usize) -> usize {
    let first = first.unwrap_or(DEFAULT_FIRST).clamp(1, MAX_PAGE as i32);
    usize::try_from(first).unwrap_or(1).saturating_mul(child_complexity)
}

/// Loads one connection of `owner`, checking `first` and `after` first.
pub(crate) async fn load(
    ctx: &Context<'_>,
    owner: UserId,
    side: Side,
    first: Option<i32>,
    after: Option<String>,
) -> Result<UserConnection> {
    let request = page_request(first, after)?;
    let loader = context::loader(ctx)?;
    let key = PageOf { owner, side, request };
    let page = loader.load_one(key).await.map_err(|e| e.extend())?.unwrap_or_default();
    Ok(UserConnection { owner, side, page, has_previous: request.after.is_some() })
}

fn page_request(first: Option<i32>, after: Option<String>) -> Result<PageRequest> {
    let first = first.unwrap_or(DEFAULT_FIRST);
    let first = usize::try_from(first)
        .ok()
        .filter(|&n| n <= MAX_PAGE)
        .ok_or_else(|| bad_input(format!("`first` must be between 0 and {MAX_PAGE}.")))?;
    let after = after
        .map(|raw| Cursor::decode(&raw))
        .transpose()
        .map_err(|_| bad_input("`after` is not a cursor from this API."))?;
    Ok(PageRequest { first, after })
}

#[Object]
impl UserConnection {
    async fn edges(&self, ctx: &Context<'_>) -> Result<Vec<UserEdge>> {
        let users = self.users(ctx).await?;
        Ok(self
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
        let cursor = |e: Option<&crate::domain::page::Entry>| e.map(|e| e.position().encode());
        PageInfo {
            has_next_page: self.page.has_next,
            end_cursor: cursor(self.page.entries.last()),
            has_previous_page: self.has_previous,
            start_cursor: cursor(self.page.entries.first()),
        }
    }

    /// The whole list's length, exact at every moment.
    async fn total_count(&self, ctx: &Context<'_>) -> Result<i64> {
        let loader = context::loader(ctx)?;
        let counts = loader.load_one(CountsOf(self.owner)).await.map_err(|e| e.extend())?;
        let counts = counts.unwrap_or_default();
        Ok(match self.side {
            Side::Following => counts.following,
            Side::Followers => counts.followers,
        })
    }
}

impl UserConnection {
    /// The users on the page, in page order; `None` where `user_basic` has no such user.
    async fn users(&self, ctx: &Context<'_>) -> Result<Vec<Option<User>>> {
        let loader = context::loader(ctx)?;
        let ids = self.page.entries.iter().map(|e| e.user);
        let found = loader.load_many(ids).await.map_err(|e| e.extend())?;
        Ok(self.page.entries.iter().map(|e| found.get(&e.user).cloned().map(User)).collect())
    }
}

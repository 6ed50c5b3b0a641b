//! Paging arguments of the `following` and `followers` connections: `first` and `after` checked
//! once, the cost the complexity limit charges, and the page loaded through the request's
//! DataLoader, so that a list of N connections costs the same few round trips as one.

use async_graphql::{Context, Result};

use super::context;
use super::error::bad_input;
use super::loaders::PageOf;
use super::prefetch::Known;
use crate::domain::ids::UserId;
use crate::domain::page::{Cursor, Page, PageRequest, Side};
use crate::service::MAX_PAGE;

/// Page size when `first` is not given.
const DEFAULT_FIRST: i32 = 20;

/// One page of a user's list, as a connection shows it.
pub(crate) struct LoadedPage {
    pub(crate) owner: UserId,
    pub(crate) side: Side,
    pub(crate) page: Page,
    /// What was asked: `after` given means a previous page exists.
    pub(crate) request: PageRequest,
}

/// The cost of a connection for the complexity limit: its page size times what each entry asks.
pub(crate) fn cost(first: Option<i32>, child_complexity: usize) -> usize {
    let first = first.unwrap_or(DEFAULT_FIRST).clamp(1, MAX_PAGE as i32);
    usize::try_from(first).unwrap_or(1).saturating_mul(child_complexity)
}

/// One page of `owner`'s list, checking `first` and `after` first: from `known` when it was
/// loaded with the owner, else through the DataLoader.
pub(crate) async fn load(
    ctx: &Context<'_>,
    known: &Known,
    owner: UserId,
    side: Side,
    first: Option<i32>,
    after: Option<String>,
) -> Result<LoadedPage> {
    let request = page_request(first, after)?;
    let key = PageOf { owner, side, request };
    let page = match known.page(&key) {
        Some(page) => page.clone(),
        None => context::load_one(ctx, key).await?.unwrap_or_default(),
    };
    Ok(LoadedPage { owner, side, page, request })
}

/// The page `first` and `after` ask for, or why they cannot.
pub(super) fn page_request(first: Option<i32>, after: Option<String>) -> Result<PageRequest> {
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

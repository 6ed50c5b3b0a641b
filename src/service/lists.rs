//! Reading followings and followers: keyset pages for GraphQL, whole lists for the legacy
//! numbered pages. Cached lists answer from Redis; misses read whole lists from the database in
//! one query and fill them back.

use std::collections::HashMap;

use tracing::instrument;

use super::{Service, ServiceError};
use crate::cache::{Cache, FillTicket, Lookup};
use crate::domain::ids::UserId;
use crate::domain::page::{CountedPage, Entry, Page, PageRequest, Side};

/// Largest page any caller may ask for.
pub(crate) const MAX_PAGE: usize = 100;

/// A request for a whole list, in list order.
const WHOLE: PageRequest = PageRequest { first: usize::MAX - 1, after: None };

impl Service {
    /// One page of each owner's list; a constant number of round trips for any number of owners.
    #[instrument(skip(self, owners), fields(owners = owners.len()))]
    pub(crate) async fn pages(
        &self,
        side: Side,
        owners: &[UserId],
        request: &PageRequest,
    ) -> Result<HashMap<UserId, Page>, ServiceError> {
        let request = PageRequest { first: request.first.min(MAX_PAGE), ..*request };
        let Some(cache) = self.readable_cache() else {
            return self.db_pages(side, owners, &request).await;
        };
        self.meter.redis();
        let Ok(lookups) = cache.pages(side, owners, &request).await else {
            return self.db_pages(side, owners, &request).await;
        };
        let (mut pages, misses) = split("pages", lookups);
        for (owner, list) in self.load_and_fill(cache, side, misses).await? {
            pages.insert(owner, Page::from_all(list, &request));
        }
        Ok(pages)
    }

    /// A user's whole list in list order.
    #[instrument(skip(self), fields(owner = %owner))]
    pub(crate) async fn list(&self, side: Side, owner: UserId) -> Result<Vec<Entry>, ServiceError> {
        let cached = match self.readable_cache() {
            Some(cache) => {
                self.meter.redis();
                cache.lists(side, &[owner]).await.ok().map(|lookups| (cache, lookups))
            }
            None => None,
        };
        let Some((cache, lookups)) = cached else {
            let list = self.round_trip(self.shared.store.lists(side, &[owner])).await?;
            return Ok(Page::from_all(list.into_iter().map(|(_, e)| e).collect(), &WHOLE).entries);
        };
        let (mut lists, misses) = split("lists", lookups);
        lists.extend(self.load_and_fill(cache, side, misses).await?);
        let list = lists.remove(&owner).unwrap_or_default();
        Ok(Page::from_all(list, &WHOLE).entries)
    }

    /// For each owner, a page of its followers whom `viewer` follows (SPEC §14's known
    /// followers), in list order, and how many there are: one query for any number of owners.
    ///
    /// Always from the database, cached or not: the legacy zsets cannot be intersected on a
    /// Redis Cluster (two users' zsets are in different slots), and intersecting them here would
    /// read the viewer's whole following list and probe every owner's zset with it, the same
    /// lookups the database makes in its unique index within one round trip.
    #[instrument(skip(self, owners), fields(viewer = %viewer, owners = owners.len()))]
    pub(crate) async fn known_followers(
        &self,
        viewer: UserId,
        owners: &[UserId],
        request: &PageRequest,
    ) -> Result<HashMap<UserId, CountedPage>, ServiceError> {
        let request = PageRequest { first: request.first.min(MAX_PAGE), ..*request };
        let mut known: HashMap<UserId, Vec<Entry>> =
            owners.iter().map(|&owner| (owner, Vec::new())).collect();
        let read = self.shared.store.known_followers(viewer, owners);
        for (owner, entry) in self.round_trip(read).await? {
            known.entry(owner).or_default().push(entry);
        }
        let counted = |list: Vec<Entry>| {
            let total = i64::try_from(list.len()).unwrap_or(i64::MAX);
            CountedPage { page: Page::from_all(list, &request), total }
        };
        Ok(known.into_iter().map(|(owner, list)| (owner, counted(list))).collect())
    }

    async fn db_pages(
        &self,
        side: Side,
        owners: &[UserId],
        request: &PageRequest,
    ) -> Result<HashMap<UserId, Page>, ServiceError> {
        let mut windows: HashMap<UserId, Vec<Entry>> =
            owners.iter().map(|&owner| (owner, Vec::new())).collect();
        for (owner, entry) in
            self.round_trip(self.shared.store.pages(side, owners, request)).await?
        {
            windows.entry(owner).or_default().push(entry);
        }
        Ok(windows
            .into_iter()
            .map(|(owner, window)| (owner, Page::from_window(window, request.first)))
            .collect())
    }

    /// Reads the missed owners' whole lists in one query and fills back those with a ticket.
    async fn load_and_fill(
        &self,
        cache: &Cache,
        side: Side,
        misses: Misses,
    ) -> Result<HashMap<UserId, Vec<Entry>>, ServiceError> {
        if misses.is_empty() {
            return Ok(HashMap::new());
        }
        let owners: Vec<UserId> = misses.iter().map(|(owner, _)| *owner).collect();
        let mut lists: HashMap<UserId, Vec<Entry>> =
            owners.iter().map(|&owner| (owner, Vec::new())).collect();
        for (owner, entry) in self.round_trip(self.shared.store.lists(side, &owners)).await? {
            lists.entry(owner).or_default().push(entry);
        }
        let fills: Vec<(UserId, FillTicket, &[Entry])> = misses
            .into_iter()
            .filter_map(|(owner, ticket)| Some((owner, ticket?, lists.get(&owner)?.as_slice())))
            .collect();
        if !fills.is_empty() {
            self.meter.redis();
            let _ = cache.fill_lists(side, &fills).await;
        }
        Ok(lists)
    }
}

/// Users the cache did not answer for, each with its fill ticket if it may be filled.
pub(super) type Misses = Vec<(UserId, Option<FillTicket>)>;

/// Hits by owner, and the misses; counted in `cache_lookups_total` under `kind`.
pub(super) fn split<T>(
    kind: &'static str,
    lookups: HashMap<UserId, Lookup<T>>,
) -> (HashMap<UserId, T>, Misses) {
    let mut hits = HashMap::with_capacity(lookups.len());
    let mut misses = Vec::new();
    for (owner, lookup) in lookups {
        match lookup {
            Lookup::Hit(found) => {
                hits.insert(owner, found);
            }
            Lookup::Miss(ticket) => misses.push((owner, ticket)),
        }
    }
    metrics::counter!("cache_lookups_total", "kind" => kind, "result" => "hit")
        .increment(hits.len() as u64);
    metrics::counter!("cache_lookups_total", "kind" => kind, "result" => "miss")
        .increment(misses.len() as u64);
    (hits, misses)
}

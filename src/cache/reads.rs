//! Cache-aside reads: one pipeline looks up every user of a batch; what is missing is read from
//! the database by the caller and filled back under the generation guard.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use rand::Rng;
use redis::Value;

use super::keys::{Guard, Item};
use super::link::Unit;
use super::scripts;
use super::{decode, Cache, CacheError};
use crate::domain::ids::UserId;
use crate::domain::page::{Cursor, Entry, Page, PageRequest, Side};
use crate::domain::user::FollowCounts;

/// What the cache holds for one user.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Lookup<T> {
    Hit(T),
    /// Not cached (or not usable); with a ticket when the caller may fill it.
    Miss(Option<FillTicket>),
}

/// The item generations read before the database (one for a list, two for counts): a fill
/// stores only if they are unchanged and no write is under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FillTicket(Vec<String>);

impl FillTicket {
    /// A counts ticket, when both counts may be filled.
    fn both(following: Option<String>, followers: Option<String>) -> Option<Self> {
        Some(Self(vec![following?, followers?]))
    }
}

/// Extra entries read past a page, so that a tie group cut at the window's end rarely forces
/// a database read. Follow times are microseconds, so ties are rare; every entry read costs
/// Redis and the reply parser more than a rare fallback costs (`BENCHMARKS.md`).
const TIE_SLACK: usize = 2;

/// One user's zset window as read, in Redis order.
struct Window {
    items: Vec<(String, f64)>,
    /// The key exists and may be served (no dead writer's mark on the user).
    exists: bool,
    ticket: Option<FillTicket>,
}

impl Cache {
    /// A page of each owner's list, from the cache where it is there.
    pub(crate) async fn pages(
        &self,
        side: Side,
        owners: &[UserId],
        request: &PageRequest,
    ) -> Result<HashMap<UserId, Lookup<Page>>, CacheError> {
        let limit = request.first + 2 + TIE_SLACK;
        let windows = self.windows(side, owners, request.after, Some(limit)).await?;
        Ok(windows
            .into_iter()
            .map(|(owner, w)| {
                let full = w.items.len() >= limit;
                let lookup = match w.exists.then(|| page_from_window(&w.items, full, request)) {
                    Some(Some(page)) => Lookup::Hit(page),
                    _ => Lookup::Miss(w.ticket),
                };
                (owner, lookup)
            })
            .collect())
    }

    /// Each owner's whole list in list order, from the cache where it is there.
    pub(crate) async fn lists(
        &self,
        side: Side,
        owners: &[UserId],
    ) -> Result<HashMap<UserId, Lookup<Vec<Entry>>>, CacheError> {
        let windows = self.windows(side, owners, None, None).await?;
        let all = PageRequest { first: usize::MAX - 1, after: None };
        Ok(windows
            .into_iter()
            .map(|(owner, w)| {
                let lookup = match w.exists.then(|| entries(&w.items)).flatten() {
                    Some(list) => Lookup::Hit(Page::from_all(list, &all).entries),
                    None => Lookup::Miss(w.ticket),
                };
                (owner, lookup)
            })
            .collect())
    }

    /// Each owner's counts, from the legacy count zsets where both are there. Each count is an
    /// item of its own (the zsets are two keys, in two slots), so a ticket holds two
    /// generations.
    pub(crate) async fn counts(
        &self,
        owners: &[UserId],
    ) -> Result<HashMap<UserId, Lookup<FollowCounts>>, CacheError> {
        let mut units = Vec::with_capacity(owners.len() * 2);
        for &owner in owners {
            for side in [Side::Following, Side::Followers] {
                let (key, guard) = Item::Count(side, owner).keys();
                let mut unit = Unit::new(key.as_str());
                unit.add(redis::Cmd::zscore(&key, owner.get()));
                unit.add(guard_read(&guard));
                units.push(unit);
            }
        }
        let replies = self.exchange(units).await?;
        let mut replies = replies.into_iter();
        let mut found = HashMap::with_capacity(owners.len());
        for &owner in owners {
            let mut read = |side| -> Result<_, CacheError> {
                let mut values = replies.next().unwrap_or_default().into_iter();
                let count: Option<f64> = decode(values.next())?;
                let guard = self.guard_state(Item::Count(side, owner), values.next())?;
                Ok((count, guard))
            };
            let (following, following_guard) = read(Side::Following)?;
            let (followers, followers_guard) = read(Side::Followers)?;
            let usable = following_guard.usable && followers_guard.usable;
            let lookup = match (following, followers) {
                (Some(f), Some(g)) if usable => {
                    Lookup::Hit(FollowCounts { following: f as i64, followers: g as i64 })
                }
                _ => Lookup::Miss(FillTicket::both(following_guard.ticket, followers_guard.ticket)),
            };
            found.insert(owner, lookup);
        }
        Ok(found)
    }

    /// Stores whole lists read from the database, each only if its ticket still holds. Empty
    /// lists are not stored: Redis has no empty zset.
    pub(crate) async fn fill_lists(
        &self,
        side: Side,
        fills: &[(UserId, FillTicket, &[Entry])],
    ) -> Result<(), CacheError> {
        let mut units = Vec::new();
        for (owner, ticket, list) in fills {
            if list.is_empty() || list.len() > self.options().max_cached_list {
                continue;
            }
            let item = Item::List(side, *owner);
            let (key, guard) = item.keys();
            let mut unit = Unit::new(key.as_str());
            let eval = unit.run(&scripts::FILL_LIST, [&key, &guard.generation, &guard.pending]);
            eval.arg(&ticket.0[0]).arg(self.list_ttl_secs());
            for entry in *list {
                eval.arg(score(entry.at)).arg(entry.user.get());
            }
            units.push(unit);
        }
        if !units.is_empty() {
            self.exchange(units).await?;
        }
        Ok(())
    }

    /// Stores counts read from the database, each only if its ticket still holds.
    pub(crate) async fn fill_counts(
        &self,
        fills: &[(UserId, FillTicket, FollowCounts)],
    ) -> Result<(), CacheError> {
        let mut units = Vec::with_capacity(fills.len() * 2);
        for (owner, ticket, counts) in fills {
            let values = [(Side::Following, counts.following), (Side::Followers, counts.followers)];
            for ((side, count), generation) in values.into_iter().zip(&ticket.0) {
                let item = Item::Count(side, *owner);
                let (key, guard) = item.keys();
                let mut unit = Unit::new(key.as_str());
                let keys = [key.as_str(), &guard.generation, &guard.pending];
                unit.run(&scripts::FILL_COUNT, keys).arg(generation).arg(owner.get()).arg(count);
                units.push(unit);
            }
        }
        if !units.is_empty() {
            self.exchange(units).await?;
        }
        Ok(())
    }

    /// Reads each owner's zset (from `after`'s score down, at most `limit` entries), whether it
    /// exists, and its fill guard: one unit per owner, all sent at once.
    async fn windows(
        &self,
        side: Side,
        owners: &[UserId],
        after: Option<Cursor>,
        limit: Option<usize>,
    ) -> Result<Vec<(UserId, Window)>, CacheError> {
        // A hair above the cursor's score, so that a score stored with more precision than a
        // microsecond still falls inside; the exact cut is made on the entries.
        let max = after
            .map_or_else(|| "+inf".to_owned(), |c| (c.at_micros as f64 / 1e6 + 1e-6).to_string());
        let mut units = Vec::with_capacity(owners.len());
        for &owner in owners {
            let (key, guard) = Item::List(side, owner).keys();
            let mut unit = Unit::new(key.as_str());
            let range = unit.add(redis::cmd("ZRANGE"));
            range.arg(&key).arg(&max).arg("-inf").arg("BYSCORE").arg("REV");
            if let Some(limit) = limit {
                range.arg("LIMIT").arg(0).arg(limit);
            }
            range.arg("WITHSCORES");
            unit.add(redis::Cmd::exists(&key));
            unit.add(guard_read(&guard));
            units.push(unit);
        }
        let replies = self.exchange(units).await?;
        let mut windows = Vec::with_capacity(owners.len());
        for (&owner, values) in owners.iter().zip(replies) {
            let mut values = values.into_iter();
            let items: Vec<(String, f64)> = decode(values.next())?;
            let exists: bool = decode(values.next())?;
            let guard = self.guard_state(Item::List(side, owner), values.next())?;
            let ticket = guard.ticket.map(|generation| FillTicket(vec![generation]));
            windows.push((owner, Window { items, exists: exists && guard.usable, ticket }));
        }
        Ok(windows)
    }

    fn list_ttl_secs(&self) -> u64 {
        let options = self.options();
        let spread = rand::rng().random_range(0..=options.list_ttl_spread.as_secs());
        options.list_ttl.as_secs() + spread
    }
}

/// The read of one item's fill guard: generation, pending count and `live`, in one `MGET`.
fn guard_read(guard: &Guard) -> redis::Cmd {
    let mut mget = redis::cmd("MGET");
    mget.arg(&guard.generation).arg(&guard.pending).arg(&guard.live);
    mget
}

/// One item's guard as read.
struct GuardState {
    /// The item's cached data may be served (no dead writer's mark on it).
    usable: bool,
    /// The generation to fill under, unless a write is under way.
    ticket: Option<String>,
}

impl Cache {
    /// Reads one item's guard from its `MGET` reply. A mark whose writer died (pending without
    /// `live`) makes the item unusable and puts its user on the repair list.
    fn guard_state(&self, item: Item, reply: Option<Value>) -> Result<GuardState, CacheError> {
        let (generation, pending, live): (Option<String>, Option<i64>, Option<String>) =
            decode(reply)?;
        if pending.unwrap_or(0) <= 0 {
            let ticket = Some(generation.unwrap_or_else(|| "0".into()));
            return Ok(GuardState { usable: true, ticket });
        }
        if live.is_none() {
            tracing::warn!(key = %item.key(), "a write's mark outlived its writer; forgetting");
            self.mark_dirty([item.owner()]);
        }
        Ok(GuardState { usable: live.is_some(), ticket: None })
    }
}

/// The legacy score: Unix seconds as a float, here with microseconds.
pub(super) fn score(at: DateTime<Utc>) -> f64 {
    at.timestamp_micros() as f64 / 1e6
}

/// Entries from zset items; `None` if any member is not a user id (not ours to interpret).
fn entries(items: &[(String, f64)]) -> Option<Vec<Entry>> {
    items
        .iter()
        .map(|(member, score)| {
            let user = member.parse::<UserId>().ok()?;
            let at = DateTime::from_timestamp_micros((score * 1e6).round() as i64)?;
            Some(Entry { user, at })
        })
        .collect()
}

/// The page after `request.after` from a window read in Redis order (score descending, ties in
/// reverse member order). When the window is full, its last score group may be cut, so it is
/// set aside; `None` when what remains cannot decide the page (then the database answers).
fn page_from_window(items: &[(String, f64)], full: bool, request: &PageRequest) -> Option<Page> {
    let mut list = entries(items)?;
    if full {
        let last = list.last()?.at;
        list.retain(|e| e.at != last);
    }
    let window = Page::from_all(list, &PageRequest { first: request.first + 1, ..*request });
    let decided = !full || window.entries.len() > request.first;
    decided.then(|| Page::from_window(window.entries, request.first))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(id: i64, micros: i64) -> (String, f64) {
        (id.to_string(), micros as f64 / 1e6)
    }

    fn ids(page: &Page) -> Vec<i64> {
        page.entries.iter().map(|e| e.user.get()).collect()
    }

    const T: i64 = 1_700_000_000_000_000;

    #[test]
    fn ties_are_ordered_by_id_not_by_redis_member_order() {
        // Redis returns equal scores in reverse member order: "4" before "3".
        let items = vec![item(4, T + 5), item(3, T + 5), item(2, T)];
        let page = page_from_window(&items, false, &PageRequest { first: 5, after: None }).unwrap();
        assert_eq!(ids(&page), vec![3, 4, 2]);
        assert!(!page.has_next);
    }

    #[test]
    fn a_full_window_sets_its_last_score_group_aside() {
        let items = vec![item(1, T + 9), item(2, T + 8), item(4, T + 7), item(3, T + 7)];
        let page = page_from_window(&items, true, &PageRequest { first: 1, after: None }).unwrap();
        assert_eq!(ids(&page), vec![1]);
        assert!(page.has_next, "the entry set aside still proves a next page");
        let tied = vec![item(4, T + 7), item(3, T + 7)];
        assert_eq!(page_from_window(&tied, true, &PageRequest { first: 1, after: None }), None);
    }

    #[test]
    fn a_page_starts_strictly_after_the_cursor() {
        let items = [item(1, T + 9), item(5, T + 8), item(2, T + 8), item(3, T + 7)];
        let after = Entry {
            user: UserId::new(2).unwrap(),
            at: DateTime::from_timestamp_micros(T + 8).unwrap(),
        };
        let request = PageRequest { first: 5, after: Some(after.position()) };
        let page = page_from_window(&items[1..], false, &request).unwrap();
        assert_eq!(ids(&page), vec![5, 3]);
    }

    #[test]
    fn foreign_members_make_the_window_unusable() {
        let items = vec![("not-an-id".to_owned(), 1.0)];
        assert_eq!(page_from_window(&items, false, &PageRequest { first: 5, after: None }), None);
    }
}

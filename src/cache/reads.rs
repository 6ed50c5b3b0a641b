//! Cache-aside reads: one pipeline looks up every user of a batch; what is missing is read from
//! the database by the caller and filled back under the generation guard.

use std::collections::HashMap;

use bb8_redis::redis::{self, Value};
use chrono::{DateTime, Utc};
use rand::Rng;

use super::{keys, scripts, Cache, CacheError};
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

/// The user's generation as read before the database: a fill stores only if it is unchanged
/// and no write is under way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct FillTicket(String);

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

    /// Each owner's counts, from the legacy count zsets where both are there.
    pub(crate) async fn counts(
        &self,
        owners: &[UserId],
    ) -> Result<HashMap<UserId, Lookup<FollowCounts>>, CacheError> {
        let mut pipe = redis::pipe();
        for &owner in owners {
            let member = owner.to_string();
            pipe.zscore(keys::FOLLOWING_COUNTS, &member).zscore(keys::FOLLOWER_COUNTS, &member);
            guard_reads(&mut pipe, owner);
        }
        let values: Vec<Value> = self.exchange(&pipe).await?;
        let mut values = values.into_iter();
        let mut found = HashMap::with_capacity(owners.len());
        for &owner in owners {
            let following: Option<f64> = decode(values.next())?;
            let followers: Option<f64> = decode(values.next())?;
            let (usable, ticket) = self.guard(owner, &mut values)?;
            let lookup = match (following, followers) {
                (Some(f), Some(g)) if usable => {
                    Lookup::Hit(FollowCounts { following: f as i64, followers: g as i64 })
                }
                _ => Lookup::Miss(ticket),
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
        let mut pipe = redis::pipe();
        let mut any = false;
        for (owner, ticket, list) in fills {
            if list.is_empty() || list.len() > self.options().max_cached_list {
                continue;
            }
            any = true;
            let eval = pipe.cmd("EVAL").arg(scripts::FILL_LIST).arg(3);
            eval.arg(keys::list(side, *owner))
                .arg(keys::generation(*owner))
                .arg(keys::pending(*owner));
            eval.arg(&ticket.0).arg(self.list_ttl_secs());
            for entry in *list {
                eval.arg(score(entry.at)).arg(entry.user.to_string());
            }
            eval.ignore();
        }
        if any {
            self.exchange::<()>(&pipe).await?;
        }
        Ok(())
    }

    /// Stores counts read from the database, each only if its ticket still holds.
    pub(crate) async fn fill_counts(
        &self,
        fills: &[(UserId, FillTicket, FollowCounts)],
    ) -> Result<(), CacheError> {
        if fills.is_empty() {
            return Ok(());
        }
        let mut pipe = redis::pipe();
        for (owner, ticket, counts) in fills {
            let eval = pipe.cmd("EVAL").arg(scripts::FILL_COUNTS).arg(4);
            eval.arg(keys::FOLLOWING_COUNTS).arg(keys::FOLLOWER_COUNTS);
            eval.arg(keys::generation(*owner)).arg(keys::pending(*owner));
            eval.arg(&ticket.0).arg(owner.to_string()).arg(counts.following).arg(counts.followers);
            eval.ignore();
        }
        self.exchange::<()>(&pipe).await
    }

    /// Reads each owner's zset (from `after`'s score down, at most `limit` entries), whether it
    /// exists, and the fill guard, in one pipeline.
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
        let mut pipe = redis::pipe();
        for &owner in owners {
            let key = keys::list(side, owner);
            let range =
                pipe.cmd("ZRANGE").arg(&key).arg(&max).arg("-inf").arg("BYSCORE").arg("REV");
            if let Some(limit) = limit {
                range.arg("LIMIT").arg(0).arg(limit);
            }
            range.arg("WITHSCORES");
            pipe.exists(&key);
            guard_reads(&mut pipe, owner);
        }
        let values: Vec<Value> = self.exchange(&pipe).await?;
        let mut values = values.into_iter();
        let mut windows = Vec::with_capacity(owners.len());
        for &owner in owners {
            let items: Vec<(String, f64)> = decode(values.next())?;
            let exists: bool = decode(values.next())?;
            let (usable, ticket) = self.guard(owner, &mut values)?;
            windows.push((owner, Window { items, exists: exists && usable, ticket }));
        }
        Ok(windows)
    }

    fn list_ttl_secs(&self) -> u64 {
        let options = self.options();
        let spread = rand::rng().random_range(0..=options.list_ttl_spread.as_secs());
        options.list_ttl.as_secs() + spread
    }
}

/// Adds the reads of one user's fill guard: `GET gen`, `GET pending`, `EXISTS live`.
fn guard_reads(pipe: &mut redis::Pipeline, owner: UserId) {
    pipe.get(keys::generation(owner)).get(keys::pending(owner)).exists(keys::live(owner));
}

impl Cache {
    /// Reads one user's guard off `values`: whether the user's cached data may be served, and
    /// a fill ticket unless a write is under way. A mark whose writer died (pending without
    /// `live`) makes the data unusable and puts the user on the repair list.
    fn guard(
        &self,
        owner: UserId,
        values: &mut impl Iterator<Item = Value>,
    ) -> Result<(bool, Option<FillTicket>), CacheError> {
        let generation: Option<String> = decode(values.next())?;
        let pending: Option<i64> = decode(values.next())?;
        let live: bool = decode(values.next())?;
        if pending.unwrap_or(0) <= 0 {
            return Ok((true, Some(FillTicket(generation.unwrap_or_else(|| "0".into())))));
        }
        if !live {
            tracing::warn!(user = %owner, "a write's mark outlived its writer; forgetting");
            self.mark_dirty([owner]);
        }
        Ok((live, None))
    }
}

fn decode<T: redis::FromRedisValue>(value: Option<Value>) -> Result<T, CacheError> {
    Ok(redis::from_redis_value(value.unwrap_or(Value::Nil))?)
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

//! The cache protocol stepped through by hand against a real Redis (`TEST_REDIS_URL`, default
//! `redis://127.0.0.1:6379`, database 3): the orderings a running service rarely hits on its own.
//! Outside CI an absent Redis skips these tests; in CI (`CI` set) it fails them.

use chrono::{DateTime, Utc};

use super::keys::Item;
use super::link::Unit;
use super::{Cache, CacheOptions, CacheTarget, Deployment, FillTicket, Lookup, PairWrite};
use crate::domain::ids::UserId;
use crate::domain::page::{Entry, Side};
use crate::domain::relation::{Relation, RelationChange};

/// A cache on the test Redis, or `None` when it is absent outside CI.
async fn cache() -> Option<Cache> {
    let base = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let url = format!("{}/3", base.trim_end_matches('/'));
    let cache = Cache::connect(&at_url(url), CacheOptions::default()).expect("redis url");
    match cache.ping().await {
        Ok(()) => Some(cache),
        Err(err) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping a Redis test: {err} (set CI=1 to make this a failure)");
            None
        }
        Err(err) => panic!("Redis is required in CI: {err}"),
    }
}

fn at_url(url: String) -> CacheTarget {
    CacheTarget { main: Deployment::Url(url), counts: None }
}

/// Ids no other test run uses.
fn users<const N: usize>() -> [UserId; N] {
    let base = i64::from(rand::random::<u32>()) * 16 + 1;
    std::array::from_fn(|i| UserId::new(base + i as i64).unwrap())
}

fn at(seconds: i64) -> DateTime<Utc> {
    DateTime::from_timestamp(1_700_000_000 + seconds, 0).unwrap()
}

/// The fill ticket of a miss; `None` when a write is under way.
async fn ticket(cache: &Cache, user: UserId) -> Option<FillTicket> {
    match cache.lists(Side::Following, &[user]).await.unwrap().remove(&user).unwrap() {
        Lookup::Miss(ticket) => ticket,
        Lookup::Hit(_) => panic!("expected a miss"),
    }
}

async fn cached(cache: &Cache, user: UserId) -> Option<Vec<Entry>> {
    match cache.lists(Side::Following, &[user]).await.unwrap().remove(&user).unwrap() {
        Lookup::Hit(list) => Some(list),
        Lookup::Miss(_) => None,
    }
}

/// A follow `a → b` written through the protocol: marked, committed (not here), finished.
async fn write_follow(cache: &Cache, a: UserId, b: UserId, when: DateTime<Utc>) {
    assert!(cache.begin_write(&[(a, b)]).await, "Redis is up: marked");
    let change =
        RelationChange { user: a, target: b, from: Relation::None, to: Relation::Follow, at: when };
    cache.finish_write(&[PairWrite { a, b, changes: &[change] }]).await;
}

#[tokio::test]
async fn a_fill_that_read_the_database_before_a_write_is_refused() {
    let Some(cache) = cache().await else { return };
    let [a, b, c] = users();
    let stale_ticket = ticket(&cache, a).await.expect("nothing under way");
    let snapshot = [Entry { user: b, at: at(0) }];
    write_follow(&cache, a, c, at(1)).await; // bumps a's generation
    cache.fill_lists(Side::Following, &[(a, stale_ticket, &snapshot)]).await.unwrap();
    assert_eq!(cached(&cache, a).await, None, "the stale fill must not store");

    let fresh = ticket(&cache, a).await.expect("nothing under way");
    let now = [Entry { user: c, at: at(1) }, Entry { user: b, at: at(0) }];
    cache.fill_lists(Side::Following, &[(a, fresh, &now)]).await.unwrap();
    assert_eq!(cached(&cache, a).await, Some(now.to_vec()));
}

#[tokio::test]
async fn no_fill_may_start_while_a_write_is_between_begin_and_finish() {
    let Some(cache) = cache().await else { return };
    let [a, b] = users();
    assert!(cache.begin_write(&[(a, b)]).await, "Redis is up: marked");
    assert_eq!(ticket(&cache, a).await, None, "a write is under way for a");
    assert_eq!(ticket(&cache, b).await, None, "and for b");
    cache.finish_write(&[PairWrite { a, b, changes: &[] }]).await;
    assert!(ticket(&cache, a).await.is_some(), "finished: fills may go on");
}

/// The service finishes a write in the cache only if its marks were set: lifting marks it never
/// set would lift another write's. So an unreachable Redis must say so and take reads off it.
#[tokio::test]
async fn a_write_mark_that_cannot_reach_redis_says_so_and_takes_reads_off_the_cache() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let url = format!("redis://127.0.0.1:{port}");
    let cache = Cache::connect(&at_url(url), CacheOptions::default());
    let cache = cache.unwrap();
    assert!(cache.readable());
    let [a, b] = users();
    assert!(!cache.begin_write(&[(a, b)]).await, "nothing was marked");
    assert!(!cache.readable(), "the users are dirty: reads bypass Redis");
}

/// A writer that dies between its mark and its cache update (a crash after the commit) leaves
/// its mark pending without `live`: the user's cached data must not be served, and is forgotten.
#[tokio::test]
async fn a_mark_whose_writer_died_is_found_and_its_users_data_forgotten() {
    let Some(cache) = cache().await else { return };
    let [a, b, c] = users();
    let fill = ticket(&cache, a).await.expect("nothing under way");
    let before = [Entry { user: b, at: at(0) }];
    cache.fill_lists(Side::Following, &[(a, fill, &before)]).await.unwrap();
    assert!(cache.begin_write(&[(a, c)]).await, "marked");
    assert_eq!(cached(&cache, a).await, Some(before.to_vec()), "served while its writer lives");
    let live = Item::List(Side::Following, a).keys().1.live;
    let mut dies = Unit::new(Item::List(Side::Following, a).key());
    dies.add(redis::Cmd::del(&live));
    cache.exchange(vec![dies]).await.unwrap();
    assert_eq!(cached(&cache, a).await, None, "the write committed, maybe: not served");
    assert!(!cache.readable(), "a is on the repair list");
    assert_eq!(cache.dirty_users(), [a]);
    cache.forget(&[a]).await.unwrap();
    cache.cleared(&[a]);
    assert!(cache.readable());
    assert!(ticket(&cache, a).await.is_some(), "forgotten, the dead mark with it: fills go on");
    assert_eq!(cached(&cache, a).await, None, "and the list is gone");
}

/// Scripts go by their hash; a Redis that has lost them (restarted, failed over, flushed)
/// answers `NOSCRIPT` without running them, and each such call must go again in full.
#[tokio::test]
async fn a_redis_that_lost_the_scripts_still_runs_every_step() {
    let Some(cache) = cache().await else { return };
    let [a, b, c] = users();
    let fill = ticket(&cache, a).await.expect("nothing under way");
    let before = [Entry { user: c, at: at(0) }];
    cache.fill_lists(Side::Following, &[(a, fill, &before)]).await.unwrap();
    let mut flush = Unit::new("script");
    flush.add(redis::cmd("SCRIPT")).arg("FLUSH");
    cache.exchange(vec![flush]).await.unwrap();
    write_follow(&cache, a, b, at(1)).await;
    let after = vec![Entry { user: b, at: at(1) }, Entry { user: c, at: at(0) }];
    assert_eq!(cached(&cache, a).await, Some(after), "marked and applied, once each");
    assert!(cache.readable(), "no step failed");
}

//! Reading users' followings and followers: pages for direct reads, whole lists for cache fills.
//! Each call covers any number of users in one query.

use chrono::{DateTime, Utc};
use sqlx::FromRow;

use super::read::{id_array, id_json};
use super::{postgres, sqlite, DbError, Store};
use crate::domain::ids::UserId;
use crate::domain::page::{Cursor, Entry, PageRequest, Side};

#[derive(FromRow)]
struct ListRow {
    owner: i64,
    other: i64,
    update_time: DateTime<Utc>,
}

/// An entry of `owner`'s list.
pub type OwnedEntry = (UserId, Entry);

impl Store {
    /// For each owner, the first `request.first + 1` entries after `request.after`, in list
    /// order (one more than asked, so the caller knows whether a next page exists).
    pub async fn pages(
        &self,
        side: Side,
        owners: &[UserId],
        request: &PageRequest,
    ) -> Result<Vec<OwnedEntry>, DbError> {
        let after = request.after.unwrap_or_else(Cursor::start);
        let limit = i64::try_from(request.first + 1).unwrap_or(i64::MAX);
        let rows: Vec<ListRow> = match self {
            Store::Postgres(pool) => {
                let sql = pick(side, postgres::FOLLOWING_PAGES, postgres::FOLLOWERS_PAGES);
                let q = sqlx::query_as(sql).bind(id_array(owners)).bind(after.at());
                q.bind(after.user.get()).bind(limit).fetch_all(pool).await?
            }
            Store::Sqlite(db) => {
                let sql = pick(side, sqlite::FOLLOWING_PAGES, sqlite::FOLLOWERS_PAGES);
                let q = sqlx::query_as(sql).bind(id_json(owners)).bind(after.at());
                q.bind(after.user.get()).bind(limit).fetch_all(&db.read).await?
            }
        };
        let mut entries: Vec<OwnedEntry> = rows.into_iter().filter_map(owned_entry).collect();
        entries.sort_by(|a, b| a.1.position().order(&b.1.position()));
        Ok(entries)
    }

    /// Every entry of each owner's list, in no particular order.
    pub async fn lists(&self, side: Side, owners: &[UserId]) -> Result<Vec<OwnedEntry>, DbError> {
        let rows: Vec<ListRow> = match self {
            Store::Postgres(pool) => {
                let sql = pick(side, postgres::FOLLOWING_LISTS, postgres::FOLLOWERS_LISTS);
                sqlx::query_as(sql).bind(id_array(owners)).fetch_all(pool).await?
            }
            Store::Sqlite(db) => {
                let sql = pick(side, sqlite::FOLLOWING_LISTS, sqlite::FOLLOWERS_LISTS);
                sqlx::query_as(sql).bind(id_json(owners)).fetch_all(&db.read).await?
            }
        };
        Ok(rows.into_iter().filter_map(owned_entry).collect())
    }
}

fn pick(side: Side, following: &'static str, followers: &'static str) -> &'static str {
    match side {
        Side::Following => following,
        Side::Followers => followers,
    }
}

fn owned_entry(row: ListRow) -> Option<OwnedEntry> {
    let owner = UserId::new(row.owner).ok()?;
    let user = UserId::new(row.other).ok()?;
    Some((owner, Entry { user, at: row.update_time }))
}

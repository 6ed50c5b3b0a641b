//! Reading users' followings and followers: pages for direct reads, whole lists for cache fills,
//! and the followers a viewer knows. Each call covers any number of users in one query.

use chrono::{DateTime, Utc};

use super::{DbError, Dialect, Store};
use crate::domain::ids::UserId;
use crate::domain::page::{Cursor, Entry, PageRequest, Side};

/// `owner, other, update_time`, read by position as in `read.rs`.
type ListRow = (i64, i64, DateTime<Utc>);

/// An entry of `owner`'s list.
pub(crate) type OwnedEntry = (UserId, Entry);

impl Store {
    /// For each owner, the first `request.first + 1` entries after `request.after`, in list
    /// order (one more than asked, so the caller knows whether a next page exists).
    pub(crate) async fn pages(
        &self,
        side: Side,
        owners: &[UserId],
        request: &PageRequest,
    ) -> Result<Vec<OwnedEntry>, DbError> {
        let after = request.after.unwrap_or_else(Cursor::start);
        let limit = i64::try_from(request.first + 1).unwrap_or(i64::MAX);
        let rows: Vec<ListRow> = for_backend!(self, Store(db) as D => {
            let query = sqlx::query_as(db.sql().pages(side)).bind(D::ids(owners));
            let query = query.bind(after.at()).bind(after.user.get()).bind(limit);
            query.fetch_all(db.reader()).await?
        });
        let mut entries: Vec<OwnedEntry> = rows.into_iter().filter_map(owned_entry).collect();
        entries.sort_by(|a, b| a.1.order(&b.1));
        Ok(entries)
    }

    /// The followers of each owner whom `viewer` follows, in no particular order. Led by the
    /// viewer's followings, each looked up in the owners' rows by the unique index, so a star
    /// owner's million followers are never read: the rows read are about the viewer's
    /// followings times the owners.
    pub(crate) async fn known_followers(
        &self,
        viewer: UserId,
        owners: &[UserId],
    ) -> Result<Vec<OwnedEntry>, DbError> {
        let rows: Vec<ListRow> = for_backend!(self, Store(db) as D => {
            let query = sqlx::query_as(&db.sql().known_followers).bind(viewer.get());
            query.bind(D::ids(owners)).fetch_all(db.reader()).await?
        });
        Ok(rows.into_iter().filter_map(owned_entry).collect())
    }

    /// Every entry of each owner's list, in no particular order.
    pub(crate) async fn lists(
        &self,
        side: Side,
        owners: &[UserId],
    ) -> Result<Vec<OwnedEntry>, DbError> {
        let rows: Vec<ListRow> = for_backend!(self, Store(db) as D => {
            let query = sqlx::query_as(db.sql().lists(side)).bind(D::ids(owners));
            query.fetch_all(db.reader()).await?
        });
        Ok(rows.into_iter().filter_map(owned_entry).collect())
    }
}

fn owned_entry((owner, other, at): ListRow) -> Option<OwnedEntry> {
    Some((UserId::new(owner).ok()?, Entry { user: UserId::new(other).ok()?, at }))
}

//! The service's own account state (SPEC §14, `migrations/*/0005_follow_requests.sql` and
//! `0006_list_visibility.sql`): each account's settings, and a locked account's pending follow
//! requests. Requests are written
//! only by the write path (`pair.rs`), under their pair's lock, with the pair's rows.

use chrono::DateTime;

use super::{DbError, Dialect, Store};
use crate::domain::account::{AccountSettings, ListVisibility};
use crate::domain::ids::UserId;
use crate::domain::page::{Cursor, Entry, Page, PageRequest};

impl Store {
    /// The settings of those of `ids` who have set any; the others have the defaults.
    pub(crate) async fn settings(
        &self,
        ids: &[UserId],
    ) -> Result<Vec<(UserId, AccountSettings)>, DbError> {
        let rows: Vec<(i64, i64, i64, i64)> = for_backend!(self, Store(db) as D => {
            let query = sqlx::query_as(&db.sql().account_settings).bind(D::ids(ids));
            query.fetch_all(db.reader()).await?
        });
        let settings = |(id, locked, followers, following): (i64, i64, i64, i64)| {
            let settings = AccountSettings {
                locked: locked != 0,
                followers: ListVisibility::from_code(followers),
                following: ListVisibility::from_code(following),
            };
            Some((UserId::new(id).ok()?, settings))
        };
        Ok(rows.into_iter().filter_map(settings).collect())
    }

    /// Locks or unlocks `user`'s account. Pending requests stay either way.
    pub(crate) async fn set_locked(&self, user: UserId, locked: bool) -> Result<(), DbError> {
        for_backend!(self, Store(db) => {
            let query = sqlx::query(&db.sql().set_locked).bind(user.get()).bind(i16::from(locked));
            query.execute(db.writer()).await?;
        });
        Ok(())
    }

    /// Sets who may see `user`'s followers and following lists.
    pub(crate) async fn set_visibility(
        &self,
        user: UserId,
        followers: ListVisibility,
        following: ListVisibility,
    ) -> Result<(), DbError> {
        for_backend!(self, Store(db) => {
            let query = sqlx::query(&db.sql().set_visibility).bind(user.get());
            let query = query.bind(followers.code()).bind(following.code());
            query.execute(db.writer()).await?;
        });
        Ok(())
    }

    /// A page of the requests pending for `target`, newest first, ties by requester id: the
    /// order and cursors of the follow lists, an entry's time being the request's.
    pub(crate) async fn request_page(
        &self,
        target: UserId,
        request: &PageRequest,
    ) -> Result<Page, DbError> {
        let after = request.after.unwrap_or_else(Cursor::start);
        let limit = i64::try_from(request.first.saturating_add(1)).unwrap_or(i64::MAX);
        let rows: Vec<(i64, i64)> = for_backend!(self, Store(db) => {
            let query = sqlx::query_as(&db.sql().requests_page).bind(target.get());
            let query = query.bind(after.at_micros).bind(after.at_micros).bind(after.user.get());
            query.bind(limit).fetch_all(db.reader()).await?
        });
        let entry = |(user, micros): (i64, i64)| {
            Some(Entry {
                user: UserId::new(user).ok()?,
                at: DateTime::from_timestamp_micros(micros)?,
            })
        };
        Ok(Page::from_window(rows.into_iter().filter_map(entry).collect(), request.first))
    }

    /// How many requests are pending for `target`.
    pub(crate) async fn request_count(&self, target: UserId) -> Result<i64, DbError> {
        let (count,): (i64,) = for_backend!(self, Store(db) => {
            let query = sqlx::query_as(&db.sql().request_count).bind(target.get());
            query.fetch_one(db.reader()).await?
        });
        Ok(count)
    }
}

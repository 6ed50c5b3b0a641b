//! The cache's repair list (`followgraph_cache_repair`, `migrations/*/0004_cache_repair.sql`):
//! users whose cached data a write could not keep exact, listed in the write's own transaction
//! and read by every instance until one has had their data forgotten.

use super::pair::{PairTx, Tx};
use super::{DbError, Dialect, Store};
use crate::domain::ids::UserId;

/// A listed user, with when it was listed (µs): the listing a repair removes.
pub(super) type Listing = (UserId, i64);

impl PairTx<'_> {
    /// Lists `users` for repair, in the group's transaction (`at`: the write's time, µs).
    pub(crate) async fn list_for_repair(
        &mut self,
        users: &[UserId],
        at: i64,
    ) -> Result<(), DbError> {
        let sql = &self.sql.list_for_repair;
        for_backend!(&mut self.tx, Tx(tx) as D => {
            sqlx::query(sql).bind(at).bind(D::ids(users)).execute(&mut **tx).await?;
        });
        Ok(())
    }
}

impl Store {
    /// The users listed for repair (a bounded batch).
    pub(crate) async fn users_to_repair(&self) -> Result<Vec<Listing>, DbError> {
        let rows: Vec<(i64, i64)> = for_backend!(self, Store(db) => {
            sqlx::query_as(&db.sql().users_to_repair).fetch_all(db.reader()).await?
        });
        Ok(rows.into_iter().filter_map(|(user, at)| Some((UserId::new(user).ok()?, at))).collect())
    }

    /// Takes a listing off the list, unless the user was listed again since.
    pub(crate) async fn repaired(&self, (user, at): Listing) -> Result<(), DbError> {
        for_backend!(self, Store(db) => {
            let query = sqlx::query(&db.sql().repaired).bind(user.get()).bind(at);
            query.execute(db.writer()).await?;
        });
        Ok(())
    }
}

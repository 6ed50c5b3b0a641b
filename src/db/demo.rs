//! Demo users for the embedded default, so that a fresh `cargo run` has someone to follow.

use super::{DbError, Dialect, Store};
use crate::domain::ids::UserId;

/// The demo user (id 1) whose token the development mode prints at start.
pub(crate) const FIRST_DEMO_USER: UserId = UserId::MIN;

/// One statement, so that two processes starting at once cannot seed twice; `column1` and
/// `column2` are what both PostgreSQL and SQLite call the columns of a bare `VALUES` list.
const SEED: &str = "INSERT INTO user_basic (user_id, user_name) \
     SELECT column1, column2 FROM (VALUES \
       (1, 'Ada Lovelace'), (2, 'Alan Turing'), (3, 'Grace Hopper'), \
       (4, 'Edsger Dijkstra'), (5, 'Barbara Liskov'), (6, 'Donald Knuth')) AS demo \
     WHERE NOT EXISTS (SELECT 1 FROM user_basic)";

impl Store {
    /// Inserts the demo users when `user_basic` is empty; returns how many were inserted.
    pub(crate) async fn seed_demo_users(&self) -> Result<u64, DbError> {
        let seeded = for_backend!(self, Store(db) => {
            sqlx::query(SEED).execute(db.writer()).await?.rows_affected()
        });
        Ok(seeded)
    }
}

//! Batched reads: each takes any number of ids and costs one query.

use super::{DbError, Dialect, Store};
use crate::domain::ids::UserId;
use crate::domain::relation::Relation;
use crate::domain::user::{Directions, FollowCounts, UserProfile};

// Rows are read by position, in the order every backend's statement selects the columns
// (`db/dialect.rs`): by name, sqlx hashes each column's name for every value it reads, which
// cost more than decoding the value.

/// `user_id, user_name, profile_photo`
type UserRow = (i64, String, Option<String>);

/// `user_id, following, followers`
type CountsRow = (i64, i64, i64);

/// `user_id, target_user_id, relation, request`: `request` is 1 for a pending follow request
/// `user_id → target_user_id` (whose `relation` means nothing), 0 for a `user_relation` row.
pub(super) type RelationRow = (i64, i64, i64, i64);

/// What the pair statement found between some pairs of users: their stored relations and their
/// pending follow requests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct PairRows {
    pub(crate) relations: Vec<StoredRelation>,
    /// `(requester, target)` of each pending request.
    pub(crate) requests: Vec<(UserId, UserId)>,
}

impl PairRows {
    /// Sorts the statement's rows into relations and requests.
    pub(super) fn of_rows(rows: Vec<RelationRow>) -> Self {
        let mut found = Self::default();
        for (user, target, relation, request) in rows {
            let (Ok(user), Ok(target)) = (UserId::new(user), UserId::new(target)) else {
                continue;
            };
            if request != 0 {
                found.requests.push((user, target));
            } else if let Ok(code) = i16::try_from(relation) {
                let relation = Relation::from_code(code);
                found.relations.push(StoredRelation { user, target, relation });
            }
        }
        found
    }
}

/// A relation between two users, as stored (the write path also reads rows whose relation is
/// none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct StoredRelation {
    pub(crate) user: UserId,
    pub(crate) target: UserId,
    pub(crate) relation: Relation,
}

impl Store {
    /// The profiles of those ids that exist, in no particular order.
    pub(crate) async fn users(&self, ids: &[UserId]) -> Result<Vec<UserProfile>, DbError> {
        let rows: Vec<UserRow> = for_backend!(self, Store(db) as D => {
            let query = sqlx::query_as(&db.sql().users).bind(D::ids(ids));
            query.fetch_all(db.reader()).await?
        });
        Ok(rows.into_iter().filter_map(profile).collect())
    }

    /// Exact following and follower counts for each id (zero for unknown ids).
    pub(crate) async fn counts(
        &self,
        ids: &[UserId],
    ) -> Result<Vec<(UserId, FollowCounts)>, DbError> {
        let rows: Vec<CountsRow> = for_backend!(self, Store(db) as D => {
            let query = sqlx::query_as(&db.sql().counts).bind(D::ids(ids));
            query.fetch_all(db.reader()).await?
        });
        Ok(rows
            .into_iter()
            .filter_map(|(id, following, followers)| {
                UserId::new(id).ok().map(|id| (id, FollowCounts { following, followers }))
            })
            .collect())
    }

    /// Every non-zero relation and every pending request between `viewer` and each of
    /// `others`, in the directions asked.
    pub(crate) async fn relations_with(
        &self,
        viewer: UserId,
        others: &[UserId],
        directions: Directions,
    ) -> Result<PairRows, DbError> {
        let outgoing = others.iter().filter(|_| directions.outgoing).map(|&o| (viewer, o));
        let incoming = others.iter().filter(|_| directions.incoming).map(|&o| (o, viewer));
        let (users, targets): (Vec<UserId>, Vec<UserId>) = outgoing.chain(incoming).unzip();
        let rows: Vec<RelationRow> = for_backend!(self, Store(db) as D => {
            let (users, targets) = (D::ids(&users), D::ids(&targets));
            let query = sqlx::query_as(&db.sql().pair_relations);
            let query = query.bind(users.clone()).bind(targets.clone());
            query.bind(users).bind(targets).fetch_all(db.reader()).await?
        });
        let mut found = PairRows::of_rows(rows);
        found.relations.retain(|r| r.relation != Relation::None);
        Ok(found)
    }
}

fn profile((id, name, photo): UserRow) -> Option<UserProfile> {
    Some(UserProfile { id: UserId::new(id).ok()?, name, photo })
}

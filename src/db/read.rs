//! Batched reads: each takes any number of ids and costs one query.

use sqlx::FromRow;

use super::{DbError, Dialect, Store};
use crate::domain::ids::UserId;
use crate::domain::relation::Relation;
use crate::domain::user::{FollowCounts, UserProfile};

#[derive(FromRow)]
struct UserRow {
    user_id: i64,
    user_name: String,
    profile_photo: Option<String>,
}

#[derive(FromRow)]
struct CountsRow {
    user_id: i64,
    following: i64,
    followers: i64,
}

#[derive(FromRow)]
pub(super) struct RelationRow {
    user_id: i64,
    target_user_id: i64,
    relation: i64,
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
            .filter_map(|r| {
                let counts = FollowCounts { following: r.following, followers: r.followers };
                UserId::new(r.user_id).ok().map(|id| (id, counts))
            })
            .collect())
    }

    /// Every non-zero relation, either way, between `viewer` and each of `others`.
    pub(crate) async fn relations_with(
        &self,
        viewer: UserId,
        others: &[UserId],
    ) -> Result<Vec<StoredRelation>, DbError> {
        let (users, targets): (Vec<UserId>, Vec<UserId>) =
            others.iter().flat_map(|&other| [(viewer, other), (other, viewer)]).unzip();
        let rows: Vec<RelationRow> = for_backend!(self, Store(db) as D => {
            let query = sqlx::query_as(&db.sql().pair_relations);
            query.bind(D::ids(&users)).bind(D::ids(&targets)).fetch_all(db.reader()).await?
        });
        let stored = rows.into_iter().filter_map(stored_relation);
        Ok(stored.filter(|r| r.relation != Relation::None).collect())
    }
}

fn profile(row: UserRow) -> Option<UserProfile> {
    let id = UserId::new(row.user_id).ok()?;
    Some(UserProfile { id, name: row.user_name, photo: row.profile_photo })
}

pub(super) fn stored_relation(row: RelationRow) -> Option<StoredRelation> {
    Some(StoredRelation {
        user: UserId::new(row.user_id).ok()?,
        target: UserId::new(row.target_user_id).ok()?,
        relation: Relation::from_code(i16::try_from(row.relation).ok()?),
    })
}

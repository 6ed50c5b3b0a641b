//! Parsing arguments into domain types, so that resolvers only ever see valid ids.

use async_graphql::{Result, ID};

use super::error::bad_input;
use crate::domain::ids::UserId;

/// A user id argument: exactly a positive decimal integer, sent as a string or an int.
pub(crate) fn user_id(id: &ID) -> Result<UserId> {
    id.parse::<UserId>().map_err(|e| bad_input(format!("Invalid user id {:?}: {e}.", id.as_str())))
}

/// Every id of a list argument, or the first bad one's error.
pub(crate) fn user_ids(ids: &[ID]) -> Result<Vec<UserId>> {
    ids.iter().map(user_id).collect()
}

//! Relay's object identification: `interface Node { id: ID! }`, so that Relay's refetchable
//! fragments work. Every node is a `User` today, so a node's id is the user's id; a later node
//! type would take ids of a form no user id has (a user id is only digits).

use async_graphql::{Interface, ID};

use super::user::User;

/// An object that can be fetched again by its id (`Query.node`).
#[derive(Interface)]
#[graphql(field(name = "id", ty = "ID", desc = "The object's id, unique across every node type."))]
pub(crate) enum Node {
    User(User),
}

//! Who is asking: the viewer resolved from the request's token before execution.

use async_graphql::{Context, Result};

use super::context;
use super::error::unauthenticated;
use crate::domain::ids::UserId;

/// The request's viewer; `None` for an anonymous request (a bad token never gets this far).
pub(crate) struct Viewer(pub Option<UserId>);

/// The viewer's id for a field that acts for or about the viewer: the guard of every such field.
pub(crate) fn require_viewer(ctx: &Context<'_>) -> Result<UserId> {
    context::state::<Viewer>(ctx)?.0.ok_or_else(unauthenticated)
}

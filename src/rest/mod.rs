//! The legacy REST shim: the Flask app's paths, methods and JSON, kept so that old clients work
//! unchanged. Every handler is a thin call into the service layer; legacy quirks live in
//! `envelope.rs` (shapes and error messages) and `extract.rs` (how inputs were read).

mod blacklists;
mod envelope;
mod extract;
mod followings;
mod lists;

pub(crate) use envelope::too_many;
pub(crate) use extract::BodyLimit;

use axum::extract::FromRef;
use axum::routing::{delete, get, post};
use axum::Router;

use crate::auth::Authenticator;
use crate::service::Service;

/// What the REST routes share.
#[derive(Clone, FromRef)]
pub(crate) struct RestState {
    pub(crate) service: Service,
    pub(crate) auth: Authenticator,
    pub(crate) body_limit: BodyLimit,
}

/// The legacy routes, one table. Ids in paths are parsed by the handlers, so that a bad one gets
/// the legacy 400 shape instead of axum's plain-text rejection.
pub(crate) fn router(state: RestState) -> Router {
    Router::new()
        .route("/app/v1_0/user/followings", post(followings::follow).get(lists::followings))
        .route("/app/v1_0/user/followings/{target}", delete(followings::unfollow))
        .route("/app/v1_0/user/followings/{target}/", delete(followings::unfollow))
        .route("/app/v1_0/user/followers", get(lists::followers))
        .route("/app/v1_0/user/blacklists", post(blacklists::block))
        .route("/app/v1_0/user/blacklists/{target}", delete(blacklists::unblock))
        .route("/app/v1_0/user/blacklists/{target}/", delete(blacklists::unblock))
        .with_state(state)
}

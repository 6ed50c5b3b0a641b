//! `/app/v1_0/user/followings`: follow and unfollow.

use axum::extract::{Path, State};
use axum::response::Response;

use super::envelope::{created_target, ok, requested_target, LegacyError};
use super::extract::{path_target, LegacyViewer, TargetBody};
use crate::domain::relation::FollowState;
use crate::service::{Action, Service};

/// `POST /app/v1_0/user/followings` `{"target": id}` → 201 `{"message":"OK","data":{"target":id}}`;
/// for a locked target, a request: 201 `{"message":"OK","data":{"target":id,"requested":true}}`.
pub(crate) async fn follow(
    State(service): State<Service>,
    LegacyViewer(viewer): LegacyViewer,
    TargetBody(target): TargetBody,
) -> Result<Response, LegacyError> {
    match service.apply(Action::Follow, viewer, target).await? {
        FollowState::Requested => Ok(requested_target(target)),
        FollowState::Following | FollowState::None => Ok(created_target(target)),
    }
}

/// `DELETE /app/v1_0/user/followings/{target}` → 200 `{"message":"OK"}`.
pub(crate) async fn unfollow(
    State(service): State<Service>,
    LegacyViewer(viewer): LegacyViewer,
    Path(target): Path<String>,
) -> Result<Response, LegacyError> {
    let target = path_target(&target)?;
    service.apply(Action::Unfollow, viewer, target).await?;
    Ok(ok())
}

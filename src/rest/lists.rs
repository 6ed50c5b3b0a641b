//! `GET /app/v1_0/user/followings` and `GET /app/v1_0/user/followers`: the viewer's lists in the
//! legacy numbered pages.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use serde_json::{json, Value};

use super::envelope::{ok_with, LegacyError};
use super::extract::LegacyViewer;
use crate::domain::page::Side;
use crate::service::{ListedUser, Service};

/// The legacy app's page size bounds and default.
const PER_PAGE_MIN: usize = 10;
const PER_PAGE_MAX: usize = 50;
const PER_PAGE_DEFAULT: usize = 10;

/// The viewer's followings, newest first.
pub(crate) async fn followings(
    State(service): State<Service>,
    LegacyViewer(viewer): LegacyViewer,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, LegacyError> {
    list(&service, Side::Following, viewer, &query).await
}

/// The viewer's followers, newest first.
pub(crate) async fn followers(
    State(service): State<Service>,
    LegacyViewer(viewer): LegacyViewer,
    Query(query): Query<HashMap<String, String>>,
) -> Result<Response, LegacyError> {
    list(&service, Side::Followers, viewer, &query).await
}

async fn list(
    service: &Service,
    side: Side,
    viewer: crate::domain::ids::UserId,
    query: &HashMap<String, String>,
) -> Result<Response, LegacyError> {
    let page = page_param(query.get("page"))?;
    let per_page = per_page_param(query.get("per_page"))?;
    let numbered = service.numbered_page(side, viewer, page, per_page).await?;
    let results: Vec<Value> = numbered.users.iter().map(result).collect();
    let data = json!({
        "total_count": numbered.total,
        "page": page,
        "per_page": per_page,
        "results": results,
    });
    Ok(ok_with(StatusCode::OK, data))
}

fn result(user: &ListedUser) -> Value {
    json!({
        "id": user.profile.id.get(),
        "name": user.profile.name,
        "photo": user.profile.photo,
        "fans_count": user.followers,
        "mutual_follow": user.mutual,
    })
}

/// `page`: a positive integer, 1 by default (flask-restful's `inputs.positive`).
fn page_param(raw: Option<&String>) -> Result<usize, LegacyError> {
    let Some(raw) = raw else { return Ok(1) };
    match raw.parse::<usize>() {
        Ok(page) if page >= 1 && raw.bytes().all(|b| b.is_ascii_digit()) => Ok(page),
        _ => Err(LegacyError::Param {
            name: "page",
            reason: "Invalid argument: page must be a positive integer.",
        }),
    }
}

/// `per_page`: 10 to 50, 10 by default (flask-restful's `inputs.int_range`).
fn per_page_param(raw: Option<&String>) -> Result<usize, LegacyError> {
    let Some(raw) = raw else { return Ok(PER_PAGE_DEFAULT) };
    match raw.parse::<usize>() {
        Ok(n)
            if (PER_PAGE_MIN..=PER_PAGE_MAX).contains(&n)
                && raw.bytes().all(|b| b.is_ascii_digit()) =>
        {
            Ok(n)
        }
        _ => Err(LegacyError::Param {
            name: "per_page",
            reason: "Invalid per_page: per_page must be within the range 10 - 50",
        }),
    }
}

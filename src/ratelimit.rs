//! A request rate limit per client: per viewer when the request carries a valid token, else per
//! TCP peer address. Over the limit, a request is answered 429 with `Retry-After`, in GraphQL's
//! form on `/graphql` (`extensions.code = "RATE_LIMITED"`) and in the legacy form elsewhere,
//! before any database or Redis work. Health and metrics routes are not limited.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Json;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use serde_json::json;

use crate::auth::token::TokenKeys;

/// Who a request counts against.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
enum Client {
    Viewer(i64),
    Address(IpAddr),
}

/// The limiter of one process; cheap to clone.
#[derive(Clone)]
pub struct RateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<Client>>,
    keys: TokenKeys,
    seen: Arc<AtomicU64>,
}

/// How often (in requests) the limiter forgets clients that have been quiet long enough.
const FORGET_EVERY: u64 = 4096;

impl RateLimit {
    /// `per_minute` requests a minute for each client, in bursts of up to as many; `None` when
    /// the limit is off (0).
    pub fn new(per_minute: u32, keys: TokenKeys) -> Option<Self> {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute)?);
        let limiter = Arc::new(RateLimiter::keyed(quota));
        Some(Self { limiter, keys, seen: Arc::new(AtomicU64::new(0)) })
    }

    fn client(&self, request: &Request, peer: IpAddr) -> Client {
        let viewer = request
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::auth::bearer)
            .and_then(|jwt| self.keys.decode(jwt).ok());
        viewer.map_or(Client::Address(peer), |claims| Client::Viewer(claims.user_id.get()))
    }
}

/// The middleware.
pub async fn limit(
    State(limit): State<RateLimit>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let path = request.uri().path();
    if matches!(path, "/healthz" | "/readyz" | "/metrics") {
        return next.run(request).await;
    }
    if limit.seen.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == 0 {
        limit.limiter.retain_recent();
    }
    let client = limit.client(&request, peer.ip());
    match limit.limiter.check_key(&client) {
        Ok(()) => next.run(request).await,
        Err(not_until) => {
            let wait = not_until.wait_time_from(DefaultClock::default().now());
            too_many(path.starts_with("/graphql"), wait.as_secs() + 1)
        }
    }
}

fn too_many(graphql: bool, retry_after_secs: u64) -> Response {
    let body = if graphql {
        json!({ "data": null, "errors": [{
            "message": "Too many requests; retry later.",
            "extensions": { "code": "RATE_LIMITED", "retryAfter": retry_after_secs },
        }] })
    } else {
        json!({ "message": "Too many requests." })
    };
    let mut response = (StatusCode::TOO_MANY_REQUESTS, Json(body)).into_response();
    response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after_secs));
    response
}

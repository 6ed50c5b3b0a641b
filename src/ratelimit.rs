//! A request rate limit per client: per viewer when the request carries a valid token, else per
//! TCP peer address. Each transport applies it with its own refusal (GraphQL's form, the legacy
//! form), before any database or Redis work; the WebSocket transport counts each operation.
//! Health and metrics routes are not limited.

use std::net::{IpAddr, SocketAddr};
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::extract::{ConnectInfo, Request, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::middleware::Next;
use axum::response::Response;
use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};

use crate::auth::token::TokenKeys;
use crate::domain::ids::UserId;

/// Who a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Client {
    Viewer(UserId),
    Address(IpAddr),
}

/// The limiter of one process; cheap to clone.
#[derive(Clone)]
pub(crate) struct RateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<Client>>,
    keys: TokenKeys,
    seen: Arc<AtomicU64>,
}

/// How often (in requests) the limiter forgets clients that have been quiet long enough.
const FORGET_EVERY: u64 = 4096;

/// How a transport answers a request over the limit: given the request's headers (for its media
/// type) and the whole seconds to wait.
pub(crate) type Refusal = fn(&HeaderMap, u64) -> Response;

impl RateLimit {
    /// `per_minute` requests a minute for each client, in bursts of up to as many; `None` when
    /// the limit is off (0).
    pub(crate) fn new(per_minute: u32, keys: TokenKeys) -> Option<Self> {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute)?);
        let limiter = Arc::new(RateLimiter::keyed(quota));
        Some(Self { limiter, keys, seen: Arc::new(AtomicU64::new(0)) })
    }

    /// The client of a request: the viewer of a valid token (checked by signature only, which is
    /// cheap), else the peer's address.
    pub(crate) fn client(&self, headers: &HeaderMap, peer: IpAddr) -> Client {
        let viewer = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(crate::auth::bearer)
            .and_then(|jwt| self.keys.decode(jwt).ok());
        viewer.map_or(Client::Address(peer), |claims| Client::Viewer(claims.user_id))
    }

    /// Counts one request of `client`; over the limit, the whole seconds until it may come back.
    pub(crate) fn check(&self, client: Client) -> Result<(), u64> {
        if self.seen.fetch_add(1, Ordering::Relaxed) % FORGET_EVERY == 0 {
            self.limiter.retain_recent();
        }
        self.limiter.check_key(&client).map_err(|not_until| {
            not_until.wait_time_from(DefaultClock::default().now()).as_secs() + 1
        })
    }
}

/// The middleware; its state is the limit and the transport's refusal.
pub(crate) async fn limit(
    State((limit, refuse)): State<(RateLimit, Refusal)>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    request: Request,
    next: Next,
) -> Response {
    let client = limit.client(request.headers(), peer.ip());
    match limit.check(client) {
        Ok(()) => next.run(request).await,
        Err(retry_after) => {
            let mut response = refuse(request.headers(), retry_after);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
    }
}

//! A request rate limit per client: per viewer when the request carries a valid token, else per
//! TCP peer address. Each transport applies it with its own refusal (GraphQL's form, the legacy
//! form), before any database work; the WebSocket transport counts each operation. Health and
//! metrics routes are not limited.
//!
//! With Redis configured the limit is kept there (`cache/limits.rs`), one atomic step per
//! request, so it holds per client across every instance behind a load balancer. While Redis
//! does not answer, each instance limits alone with its in-process limiter (so N instances let a
//! client through up to N times the limit until Redis is back).

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
use crate::cache::{Admission, Cache};
use crate::domain::ids::UserId;

/// Who a request counts against.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Client {
    Viewer(UserId),
    Address(IpAddr),
}

impl Client {
    /// Its name in the shared limit.
    fn name(&self) -> String {
        match self {
            Client::Viewer(id) => format!("v{id}"),
            Client::Address(ip) => format!("a{ip}"),
        }
    }
}

/// The limiter of one process; cheap to clone.
#[derive(Clone)]
pub(crate) struct RateLimit {
    limiter: Arc<DefaultKeyedRateLimiter<Client>>,
    per_minute: u32,
    keys: TokenKeys,
    seen: Arc<AtomicU64>,
    /// Where the limit is shared by every instance, when Redis is configured.
    shared: Option<Cache>,
}

/// How often (in requests) the limiter forgets clients that have been quiet long enough.
const FORGET_EVERY: u64 = 4096;

/// How a transport answers a request over the limit: given the request's headers (for its media
/// type) and the whole seconds to wait.
pub(crate) type Refusal = fn(&HeaderMap, u64) -> Response;

impl RateLimit {
    /// `per_minute` requests a minute for each client, in bursts of up to as many, shared
    /// through `shared` when given; `None` when the limit is off (0).
    pub(crate) fn new(per_minute: u32, keys: TokenKeys, shared: Option<Cache>) -> Option<Self> {
        let quota = Quota::per_minute(NonZeroU32::new(per_minute)?);
        let limiter = Arc::new(RateLimiter::keyed(quota));
        Some(Self { limiter, per_minute, keys, seen: Arc::new(AtomicU64::new(0)), shared })
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
    pub(crate) async fn check(&self, client: Client) -> Admission {
        if let Some(cache) = &self.shared {
            match cache.admit(&client.name(), self.per_minute).await {
                Ok(admission) => return admission,
                Err(err) => tracing::debug!(error = %err, "rate limit kept in process meanwhile"),
            }
        }
        self.check_here(client)
    }

    /// [`RateLimit::check`] by this instance alone.
    fn check_here(&self, client: Client) -> Admission {
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
    match limit.check(client).await {
        Ok(()) => next.run(request).await,
        Err(retry_after) => {
            let mut response = refuse(request.headers(), retry_after);
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(retry_after));
            response
        }
    }
}

//! Counting one request's round trips to the database and Redis, so that tests and operators
//! can see that batching holds: the count must not grow with the number of users in a query.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Round trips made so far by the requests sharing one meter.
#[derive(Debug, Default)]
pub(crate) struct RoundTrips {
    database: AtomicU64,
    redis: AtomicU64,
}

impl RoundTrips {
    /// Database statements sent.
    pub(crate) fn database(&self) -> u64 {
        self.database.load(Ordering::Relaxed)
    }

    /// Redis exchanges (one pipeline is one exchange).
    pub(crate) fn redis(&self) -> u64 {
        self.redis.load(Ordering::Relaxed)
    }
}

/// A service's counter: always into the process metrics, and into the counters of the requests
/// that asked for one: one request's, or every request of a write group, since each of them
/// waited for all of the group's round trips.
#[derive(Debug, Clone, Default)]
pub(super) struct Meter(Vec<Arc<RoundTrips>>);

impl Meter {
    pub(super) fn on(trips: Arc<RoundTrips>) -> Self {
        Self(vec![trips])
    }

    /// Charges the requests of all `meters` together.
    pub(super) fn joined<'a>(meters: impl IntoIterator<Item = &'a Meter>) -> Self {
        Self(meters.into_iter().flat_map(|meter| meter.0.iter().cloned()).collect())
    }

    pub(super) fn database(&self) {
        metrics::counter!("db_round_trips_total").increment(1);
        for trips in &self.0 {
            trips.database.fetch_add(1, Ordering::Relaxed);
        }
    }

    pub(super) fn redis(&self) {
        metrics::counter!("redis_round_trips_total").increment(1);
        for trips in &self.0 {
            trips.redis.fetch_add(1, Ordering::Relaxed);
        }
    }
}

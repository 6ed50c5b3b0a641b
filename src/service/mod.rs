//! The follow-graph rules, the only place they live. GraphQL and the legacy REST shim both call
//! these functions, so a rule is written once and holds for every client. The cache sits behind
//! this layer too: transports never know whether an answer came from Redis.

mod accounts;
mod counts;
mod documents;
mod error;
mod events;
mod group;
mod hub;
mod lists;
mod meter;
mod numbered;
mod read;
mod relay;
mod repair;
mod rules;
mod write;

pub(crate) use accounts::check_list;
pub(crate) use error::ServiceError;
pub(crate) use hub::HubLimits;
pub(crate) use lists::MAX_PAGE;
pub(crate) use meter::RoundTrips;
pub(crate) use numbered::ListedUser;
pub(crate) use relay::{EventLinks, EventSettings};
pub(crate) use rules::Action;

use std::future::Future;
use std::sync::Arc;

use crate::cache::{Cache, ProfileCache};
use crate::db::{DbError, Store};
use documents::LocalDocuments;
use group::WriteQueue;
use meter::Meter;
use relay::Events;

/// The follow graph's operations over a store and an optional cache. Cheap to clone (one
/// reference count): every request takes its own handle, with its own round-trip meter.
#[derive(Clone, Debug)]
pub(crate) struct Service {
    shared: Arc<Shared>,
    meter: Meter,
}

/// What every handle of one service shares.
#[derive(Debug)]
struct Shared {
    store: Store,
    cache: Option<Cache>,
    profiles: ProfileCache,
    documents: LocalDocuments,
    writes: WriteQueue,
    events: Events,
}

impl Service {
    /// A service over `store` and `cache`. Starts the task that groups writes and the event
    /// tasks (`relay.rs`), so it must be called on a tokio runtime.
    pub(crate) fn new(
        store: Store,
        cache: Option<Cache>,
        events: &EventSettings,
        links: EventLinks,
    ) -> Self {
        let shared = Arc::new(Shared {
            store,
            cache,
            profiles: ProfileCache::default(),
            documents: LocalDocuments::default(),
            writes: WriteQueue::start(),
            events: Events::start(events, links),
        });
        relay::start_tasks(&shared, events);
        repair::start(&shared);
        Self { shared, meter: Meter::default() }
    }

    /// A handle that counts its round trips into the returned counter.
    pub(crate) fn metered(&self) -> (Self, Arc<RoundTrips>) {
        let trips = Arc::new(RoundTrips::default());
        let service = Self { meter: Meter::on(trips.clone()), ..self.clone() };
        (service, trips)
    }

    /// The cache if reads may use it now (configured, not cooling down, nothing dirty).
    fn readable_cache(&self) -> Option<&Cache> {
        self.shared.cache.as_ref().filter(|cache| cache.readable())
    }

    /// Runs one database round trip, counted in this handle's meter; a failure is noted by the
    /// store (a broken connection has the pool replace the others).
    async fn round_trip<T>(
        &self,
        call: impl Future<Output = Result<T, DbError>>,
    ) -> Result<T, ServiceError> {
        self.meter.database();
        let result = call.await;
        if let Err(err) = &result {
            self.shared.store.note_failure(err);
        }
        Ok(result?)
    }
}

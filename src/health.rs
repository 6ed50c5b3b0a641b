//! Liveness and readiness for load balancers and orchestrators.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use serde_json::{json, Value};

use crate::broker::LinkStatus;
use crate::cache::Cache;
use crate::db::Store;

/// Set when shutdown begins: readiness fails at once, so that load balancers stop sending new
/// requests while the ones they already sent are still served.
#[derive(Clone, Default, Debug)]
pub(crate) struct Draining(Arc<AtomicBool>);

impl Draining {
    pub(crate) fn start(&self) {
        self.0.store(true, Ordering::Release);
    }

    fn is_set(&self) -> bool {
        self.0.load(Ordering::Acquire)
    }
}

/// The broker links, as readiness reports them.
#[derive(Clone, Debug, Default)]
pub(crate) struct Brokers {
    pub(crate) events: Option<LinkStatus>,
    pub(crate) legacy_notify: Option<LinkStatus>,
}

/// `/healthz` (the process answers) and `/readyz` (the database answers too, and the process
/// is not shutting down).
pub(crate) fn router(
    store: Store,
    cache: Option<Cache>,
    brokers: Brokers,
    draining: Draining,
) -> Router {
    let probed = Probed { store, cache, brokers, draining };
    Router::new().route("/healthz", get(healthz)).route("/readyz", get(readyz)).with_state(probed)
}

/// What readiness looks at: the parts underneath the service, not the service itself.
#[derive(Clone)]
struct Probed {
    store: Store,
    cache: Option<Cache>,
    brokers: Brokers,
    draining: Draining,
}

async fn healthz() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

/// Ready while the database answers. The cache never makes the service unready: reads fall back
/// to the database.
async fn readyz(State(probed): State<Probed>) -> (StatusCode, Json<Value>) {
    if probed.draining.is_set() {
        return (StatusCode::SERVICE_UNAVAILABLE, Json(json!({ "status": "draining" })));
    }
    let (status, database) = match probed.store.ping().await {
        Ok(()) => (StatusCode::OK, "ok"),
        Err(err) => {
            tracing::warn!(error = %err, "readiness: database unavailable");
            (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
        }
    };
    let ready = status == StatusCode::OK;
    let body = json!({
        "status": if ready { "ready" } else { "unready" },
        "database": { "backend": probed.store.backend(), "state": database },
        "cache": cache_state(probed.cache.as_ref()).await,
        "events_broker": link_state(probed.brokers.events.as_ref()),
        "legacy_notify": link_state(probed.brokers.legacy_notify.as_ref()),
    });
    (status, Json(body))
}

/// A broker link's state, for operators: like the cache, a broker that is away never makes the
/// service unready (events reach subscribers through the outbox meanwhile).
fn link_state(link: Option<&LinkStatus>) -> Value {
    let state = match link {
        None => "disabled",
        Some(link) if link.is_up() => "connected",
        Some(_) => "unavailable",
    };
    json!({ "state": state })
}

/// The cache's state, for operators: a Redis outage is reported but does not make the service
/// unready, since reads fall back to the database.
async fn cache_state(cache: Option<&Cache>) -> Value {
    let Some(cache) = cache else {
        return json!({ "state": "disabled" });
    };
    let state = match cache.ping().await {
        Ok(()) => "ok",
        Err(_) => "unavailable",
    };
    json!({ "state": state, "awaiting_repair": cache.dirty_count() })
}

//! Prometheus metrics at `GET /metrics`: requests and latency per route and per GraphQL
//! operation, database and Redis round trips, cache hits and misses, pool usage.
//!
//! | metric | labels | meaning |
//! | --- | --- | --- |
//! | `http_requests_total` | `route`, `method`, `status` | requests answered |
//! | `http_request_duration_seconds` | `route`, `method` | latency histogram |
//! | `graphql_operations_total` | `operation`, `outcome` | GraphQL operations by root fields |
//! | `graphql_operation_duration_seconds` | `operation` | their latency |
//! | `db_round_trips_total`, `redis_round_trips_total` | | statements and pipelines sent |
//! | `graphql_request_round_trips` | `to` (`database`, `redis`) | round trips per GraphQL request |
//! | `write_group_size` | | writes per group (one transaction, one commit) |
//! | `cache_lookups_total` | `kind`, `result` | users answered from Redis (`hit`) or not |
//! | `db_pool_connections`, `redis_pool_connections` | `state` | open connections, idle or in use |
//! | `cache_users_awaiting_repair` | | users whose cached data waits to be forgotten |

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::header::CONTENT_TYPE;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::cache::Cache;
use crate::db::Store;

/// Round-trip buckets: a batched request makes a handful, whatever its size.
const TRIP_BUCKETS: [f64; 9] = [0.0, 1.0, 2.0, 3.0, 5.0, 8.0, 13.0, 21.0, 50.0];

/// Write group buckets, up to the largest group (64).
const GROUP_BUCKETS: [f64; 7] = [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0];

/// Latency buckets, in seconds: fine below 25 ms, where the service should answer.
const BUCKETS: [f64; 12] =
    [0.001, 0.0025, 0.005, 0.01, 0.015, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0];

/// How often recorded histogram samples are folded into their buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's recorder. Metrics are process-wide by nature; it is installed once, and every
/// app built in the process (tests build many) renders the same registry.
pub(crate) fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let builder = PrometheusBuilder::new()
                .set_buckets_for_metric(Matcher::Suffix("duration_seconds".into()), &BUCKETS)
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("graphql_request_round_trips".into()),
                        &TRIP_BUCKETS,
                    )
                })
                .and_then(|b| {
                    b.set_buckets_for_metric(
                        Matcher::Full("write_group_size".into()),
                        &GROUP_BUCKETS,
                    )
                })
                .unwrap_or_else(|_| PrometheusBuilder::new());
            let recorder = builder.build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed");
            }
            start_upkeep(handle.clone());
            handle
        })
        .clone()
}

/// A histogram keeps every sample until upkeep (or a scrape) folds it into the buckets: without
/// it, an instance nobody scrapes grows by every request's latency, several samples a request.
/// A thread of its own, because the recorder outlives any one runtime (tests start many).
fn start_upkeep(handle: PrometheusHandle) {
    let upkeep = move || loop {
        std::thread::sleep(UPKEEP_EVERY);
        handle.run_upkeep();
    };
    if let Err(err) = std::thread::Builder::new().name("metrics-upkeep".into()).spawn(upkeep) {
        tracing::warn!(error = %err, "cannot start the metrics upkeep thread");
    }
}

/// `GET /metrics` in the Prometheus text format.
pub(crate) fn router(store: Store, cache: Option<Cache>) -> Router {
    let handle = recorder();
    Router::new()
        .route(
            "/metrics",
            get(move |State((store, cache)): State<(Store, Option<Cache>)>| async move {
                record_pools(&store, cache.as_ref());
                ([(CONTENT_TYPE, "text/plain; version=0.0.4")], handle.render()).into_response()
            }),
        )
        .with_state((store, cache))
}

/// Middleware: counts and times every request by its route pattern (never the raw path, so
/// that ids do not become labels).
pub(crate) async fn track(matched: Option<MatchedPath>, request: Request, next: Next) -> Response {
    let route = matched.map_or_else(|| "unmatched".to_owned(), |m| m.as_str().to_owned());
    let method = request.method().as_str().to_owned();
    let started = Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "route" => route.clone(), "method" => method.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route, "method" => method)
        .record(started.elapsed().as_secs_f64());
    response
}

fn record_pools(store: &Store, cache: Option<&Cache>) {
    let (open, idle) = store.pool_usage();
    metrics::gauge!("db_pool_connections", "state" => "idle").set(idle as f64);
    metrics::gauge!("db_pool_connections", "state" => "in_use")
        .set(open.saturating_sub(idle) as f64);
    if let Some(cache) = cache {
        let (open, idle) = cache.pool_usage();
        metrics::gauge!("redis_pool_connections", "state" => "idle").set(idle as f64);
        metrics::gauge!("redis_pool_connections", "state" => "in_use")
            .set(open.saturating_sub(idle) as f64);
        metrics::gauge!("cache_users_awaiting_repair").set(cache.dirty_count() as f64);
    }
}

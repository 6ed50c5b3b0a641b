//! Assembling the service from its configuration: storage, the service layer, auth, and one
//! router with every route and the layers applied once.

use std::time::Duration;

use axum::body::Bytes;
use axum::http::{header, HeaderValue, Method, StatusCode};
use axum::{middleware, Router};
use tower_http::compression::CompressionLayer;
use tower_http::cors::{AllowOrigin, CorsLayer};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;

use crate::auth::token::TokenKeys;
use crate::auth::Authenticator;
use crate::broker::{EventBroker, LegacyNotifier};
use crate::cache::Cache;
use crate::config::Config;
use crate::db::demo::FIRST_DEMO_USER;
use crate::db::{DbError, Store};
use crate::graphql::http::GraphqlState;
use crate::health::Brokers;
use crate::health::Draining;
use crate::ratelimit::{self, RateLimit, Refusal};
use crate::rest::{BodyLimit, RestState};
use crate::service::{EventLinks, Service};
use crate::{graphql, health, metrics, rest};

/// A built application: its router, and what shutdown needs.
pub struct App {
    pub router: Router,
    /// The database, to close once the server has stopped.
    pub(crate) store: Store,
    /// In development mode, a token for the first demo user (printed, and put into GraphiQL).
    pub(crate) dev_token: Option<String>,
    /// Set it to fail readiness when shutdown begins.
    pub(crate) draining: Draining,
}

/// Why the application could not be built: the database, the cache or the token keys.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct BuildError(#[from] BuildFailure);

#[derive(Debug, thiserror::Error)]
pub(crate) enum BuildFailure {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
    #[error(transparent)]
    Token(#[from] crate::auth::token::TokenError),
}

/// How long the development token lives.
const DEV_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);

/// Opens the database, migrates it, seeds demo users into the embedded default, connects the
/// cache if one is configured, and builds the router.
pub async fn build(config: &Config) -> Result<App, BuildError> {
    Ok(assemble(config).await?)
}

async fn assemble(config: &Config) -> Result<App, BuildFailure> {
    let store = Store::connect(&config.database_url, &config.store)?;
    store.migrate().await?;
    if config.embedded {
        let seeded = store.seed_demo_users().await?;
        if seeded > 0 {
            tracing::info!(users = seeded, "seeded demo users into the embedded database");
        }
    }
    let cache = match &config.cache {
        Some(target) => Some(Cache::connect(target, config.cache_options.clone())?),
        None => None,
    };
    let links = EventLinks {
        broker: config.events_amqp_url.clone().map(EventBroker::start),
        notifier: config.legacy_notify_amqp_url.clone().map(LegacyNotifier::start),
    };
    let brokers = Brokers {
        events: links.broker.as_ref().map(|(broker, _)| broker.status()),
        legacy_notify: links.notifier.as_ref().map(LegacyNotifier::status),
    };
    let service = Service::new(store.clone(), cache.clone(), &config.events, links);
    let auth = Authenticator::new(TokenKeys::new(&config.jwt_secret), service.clone());
    let dev_token = if config.dev_mode {
        Some(auth.keys().mint(FIRST_DEMO_USER, DEV_TOKEN_TTL)?)
    } else {
        None
    };
    let draining = Draining::default();
    let graphiql = graphql::http::graphiql_page(dev_token.as_deref());
    let rate_limit =
        RateLimit::new(config.rate_limit_per_minute, auth.keys().clone(), cache.clone());
    let probes = health::router(store.clone(), cache.clone(), brokers, draining.clone())
        .merge(metrics::router(store.clone(), cache));
    let router = router(service, auth, rate_limit, config, probes, graphiql);
    Ok(App { router, store, dev_token, draining })
}

/// Every route, behind the layers that apply to all of them. `probes` (health and metrics)
/// look at the database and the cache directly and are never rate limited.
fn router(
    service: Service,
    auth: Authenticator,
    rate_limit: Option<RateLimit>,
    config: &Config,
    probes: Router,
    graphiql: Bytes,
) -> Router {
    let graphql = graphql::Graphql::new(
        config.query_limits,
        config.introspection,
        config.persisted_queries.clone(),
    );
    let graphql_state = GraphqlState {
        graphql,
        auth: auth.clone(),
        service: service.clone(),
        rate_limit: rate_limit.clone(),
        expose_round_trips: config.expose_round_trips,
        max_body_bytes: config.max_body_bytes,
        subscriptions_per_connection: config.subscriptions_per_connection,
        graphiql,
    };
    // Each transport reads and limits its own bodies, to refuse an oversized one in its own form.
    let body_limit = BodyLimit(config.max_body_bytes);
    let rest = rest::router(RestState { service: service.clone(), auth, body_limit });
    let graphql = graphql::http::router(graphql_state);
    // Each transport refuses a client over its rate in its own form; health and metrics are not
    // limited. Inside the metrics layer, so that refusals are counted too.
    let (graphql, rest) = match rate_limit {
        Some(limit) => (
            graphql.layer(middleware::from_fn_with_state(
                (limit.clone(), graphql::http::too_many as Refusal),
                ratelimit::limit,
            )),
            rest.layer(middleware::from_fn_with_state(
                (limit, rest::too_many as Refusal),
                ratelimit::limit,
            )),
        ),
        None => (graphql, rest),
    };
    Router::new()
        .merge(graphql)
        .merge(rest)
        .merge(probes)
        .layer(middleware::from_fn(metrics::track))
        .layer(TimeoutLayer::with_status_code(StatusCode::REQUEST_TIMEOUT, config.request_timeout))
        .layer(CompressionLayer::new())
        .layer(cors(&config.cors_origins))
        .layer(PropagateRequestIdLayer::x_request_id())
        .layer(TraceLayer::new_for_http().make_span_with(request_span))
        .layer(SetRequestIdLayer::x_request_id(MakeRequestUuid))
}

/// Each request's span carries its id (the client's `x-request-id`, or a fresh UUID), which the
/// response echoes.
fn request_span(request: &axum::http::Request<axum::body::Body>) -> tracing::Span {
    let id = request.headers().get("x-request-id").and_then(|v| v.to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", method = %request.method(), uri = %request.uri(), request_id = %id)
}

/// CORS for the configured frontend origins only; none by default.
fn cors(origins: &[String]) -> CorsLayer {
    let layer = CorsLayer::new()
        .allow_methods([Method::GET, Method::POST, Method::DELETE])
        .allow_headers([header::AUTHORIZATION, header::CONTENT_TYPE]);
    if origins.iter().any(|o| o == "*") {
        return layer.allow_origin(AllowOrigin::any());
    }
    let allowed: Vec<HeaderValue> = origins.iter().filter_map(|o| o.parse().ok()).collect();
    layer.allow_origin(AllowOrigin::list(allowed))
}

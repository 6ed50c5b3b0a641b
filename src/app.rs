//! Assembling the service from its configuration: storage, the service layer, auth, and one
//! router with every route and the layers applied once.

use axum::Router;
use tower_http::limit::RequestBodyLimitLayer;
use tower_http::trace::TraceLayer;

use crate::auth::token::TokenKeys;
use crate::auth::Authenticator;
use crate::cache::{Cache, CacheOptions};
use crate::config::Config;
use crate::db::{DbError, Store};
use crate::graphql::routes::GraphqlState;
use crate::rest::RestState;
use crate::service::Service;
use crate::{graphql, health, rest};

/// A built application: its router, and the service for shutdown.
pub struct App {
    pub router: Router,
    pub service: Service,
}

/// Why the application could not be built.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    #[error(transparent)]
    Database(#[from] DbError),
    #[error(transparent)]
    Cache(#[from] crate::cache::CacheError),
}

/// Opens the database, migrates it, seeds demo users into the embedded default, connects the
/// cache if one is configured, and builds the router.
pub async fn build(config: &Config) -> Result<App, BuildError> {
    let store = Store::connect(&config.database_url, &config.store)?;
    store.migrate().await?;
    if config.embedded {
        let seeded = store.seed_demo_users().await?;
        if seeded > 0 {
            tracing::info!(users = seeded, "seeded demo users into the embedded database");
        }
    }
    let cache = match &config.redis_url {
        Some(url) => Some(Cache::connect(url, CacheOptions::default())?),
        None => None,
    };
    if let Some(cache) = &cache {
        cache.spawn_healer();
    }
    let service = Service::new(store, cache);
    let auth = Authenticator::new(TokenKeys::new(&config.jwt_secret), service.clone());
    let router = router(service.clone(), auth, config);
    Ok(App { router, service })
}

/// Every route, behind the layers that apply to all of them.
pub fn router(service: Service, auth: Authenticator, config: &Config) -> Router {
    let graphql_state = GraphqlState {
        schema: graphql::build_schema(),
        auth: auth.clone(),
        service: service.clone(),
        expose_round_trips: config.expose_round_trips,
    };
    Router::new()
        .merge(graphql::routes::router(graphql_state))
        .merge(rest::router(RestState { service: service.clone(), auth }))
        .merge(health::router(service))
        .layer(RequestBodyLimitLayer::new(config.max_body_bytes))
        .layer(TraceLayer::new_for_http())
}

//! The one place that decides defaults and validates settings, including the rule that the
//! development mode (no secret) only ever listens on loopback.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use secrecy::SecretString;

use crate::cache::{CacheOptions, CacheTarget, Deployment};
use crate::cli::{PersistedMode, Settings};
use crate::db::StoreOptions;
use crate::graphql::{Manifest, PersistedQueries, QueryLimits};
use crate::service::{EventSettings, HubLimits};

/// Where the embedded default keeps its data: a file in the working directory.
pub const DEFAULT_DATABASE_URL: &str = "sqlite://followgraph.db";

/// Validated configuration of one process.
pub struct Config {
    pub(crate) database_url: String,
    /// True when no database was configured: the embedded SQLite file is used and demo users are
    /// seeded into it.
    pub(crate) embedded: bool,
    /// Where the cache lives; none: no cache.
    pub(crate) cache: Option<CacheTarget>,
    pub(crate) cache_options: CacheOptions,
    pub(crate) jwt_secret: SecretString,
    /// True when no secret was configured: a random one was made for this process.
    pub(crate) dev_mode: bool,
    pub(crate) listen_addr: SocketAddr,
    pub(crate) max_body_bytes: usize,
    /// Bound on receiving a request's headers.
    pub header_read_timeout: Duration,
    /// Requests a minute per client; 0: no limit.
    pub(crate) rate_limit_per_minute: u32,
    /// How long to keep serving, unready, after a shutdown signal.
    pub(crate) shutdown_drain: Duration,
    /// Bound on one request.
    pub(crate) request_timeout: Duration,
    /// Origins allowed by CORS; empty: no cross-origin access.
    pub(crate) cors_origins: Vec<String>,
    /// GraphQL query limits; the document limit is the body limit.
    pub(crate) query_limits: QueryLimits,
    /// GraphQL introspection and field suggestions.
    pub(crate) introspection: bool,
    /// How persisted queries are taken (with the trusted documents, in `only` mode).
    pub(crate) persisted_queries: PersistedQueries,
    /// Adds `extensions.roundTrips` to GraphQL responses (for tests and diagnosis).
    pub(crate) expose_round_trips: bool,
    pub(crate) store: StoreOptions,
    /// How events travel and are kept.
    pub(crate) events: EventSettings,
    /// Subscriptions one WebSocket connection may hold.
    pub(crate) subscriptions_per_connection: usize,
    /// The broker between instances, if any.
    pub(crate) events_amqp_url: Option<String>,
    /// The legacy IM server's broker, if its notifications are sent.
    pub(crate) legacy_notify_amqp_url: Option<String>,
}

/// Settings that cannot run.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error(
        "JWT_SECRET is not set, and without it followgraph only listens on loopback; \
         set JWT_SECRET or use a loopback LISTEN_ADDR (got {0})"
    )]
    InsecureListen(SocketAddr),
    #[error("REDIS_URL and REDIS_CLUSTER_NODES are both set; the cache lives in one of them")]
    TwoCaches,
    #[error("REDIS_COUNTS_URL is set without REDIS_URL or REDIS_CLUSTER_NODES")]
    CountsWithoutCache,
    #[error("JWT_SECRET is set but empty")]
    EmptySecret,
    #[error("PERSISTED_QUERIES=only needs PERSISTED_QUERIES_FILE, the documents that may run")]
    NoManifest,
    #[error(
        "REDIS_WAIT_TIMEOUT_MS must be at least 1 (Redis waits forever on 0) and below {bound} \
         ms, the bound on every Redis exchange (got {got})"
    )]
    ReplicaWait { got: u64, bound: u128 },
    #[error("EVENTS_RETENTION_HOURS must be at least {MIN_RETENTION_HOURS} (got {0})")]
    ShortRetention(u64),
    /// The trusted documents could not be read or are not what they claim.
    #[error(transparent)]
    Manifest(Box<dyn std::error::Error + Send + Sync>),
}

impl Config {
    pub fn from_settings(settings: &Settings) -> Result<Self, ConfigError> {
        let (jwt_secret, dev_mode) = match settings.jwt_secret.as_deref() {
            Some("") => return Err(ConfigError::EmptySecret),
            Some(secret) => (SecretString::from(secret.to_owned()), false),
            None if settings.listen_addr.ip().is_loopback() => (random_secret(), true),
            None => return Err(ConfigError::InsecureListen(settings.listen_addr)),
        };
        let database_url = settings.database_url.clone();
        Ok(Self {
            embedded: database_url.is_none(),
            database_url: database_url.unwrap_or_else(|| DEFAULT_DATABASE_URL.to_owned()),
            cache: cache_target(settings)?,
            cache_options: cache_options(settings)?,
            jwt_secret,
            dev_mode,
            listen_addr: settings.listen_addr,
            max_body_bytes: settings.max_body_bytes,
            expose_round_trips: settings.expose_round_trips,
            header_read_timeout: Duration::from_millis(settings.header_read_timeout_ms),
            rate_limit_per_minute: settings.rate_limit_per_minute,
            shutdown_drain: Duration::from_millis(
                settings.shutdown_drain_ms.unwrap_or(if dev_mode { 0 } else { 2000 }),
            ),
            request_timeout: Duration::from_millis(settings.request_timeout_ms),
            cors_origins: settings.cors_origins.clone(),
            query_limits: QueryLimits {
                max_document_bytes: settings.max_body_bytes,
                max_aliases: settings.graphql_max_aliases,
                max_depth: settings.graphql_max_depth,
                max_complexity: settings.graphql_max_complexity,
            },
            introspection: settings.graphql_introspection,
            persisted_queries: persisted_queries(settings)?,
            events: events(settings)?,
            subscriptions_per_connection: settings.subscriptions_per_connection.max(1),
            events_amqp_url: nonempty(&settings.events_amqp_url),
            legacy_notify_amqp_url: nonempty(&settings.legacy_notify_amqp_url),
            store: StoreOptions {
                max_connections: settings.database_max_connections.max(1),
                ..StoreOptions::default()
            },
        })
    }
}

/// Where the cache lives: one Redis or a cluster, and the counts with it or apart.
fn cache_target(settings: &Settings) -> Result<Option<CacheTarget>, ConfigError> {
    let main = match (nonempty(&settings.redis_url), nonempty(&settings.redis_cluster_nodes)) {
        (Some(_), Some(_)) => return Err(ConfigError::TwoCaches),
        (Some(url), None) => Deployment::Url(url),
        (None, Some(nodes)) => Deployment::Cluster(nodes),
        (None, None) if nonempty(&settings.redis_counts_url).is_some() => {
            return Err(ConfigError::CountsWithoutCache)
        }
        (None, None) => return Ok(None),
    };
    Ok(Some(CacheTarget { main, counts: nonempty(&settings.redis_counts_url) }))
}

/// The persisted-query mode, with its manifest read and checked when trusted documents are on.
fn persisted_queries(settings: &Settings) -> Result<PersistedQueries, ConfigError> {
    Ok(match settings.persisted_queries {
        PersistedMode::Off => PersistedQueries::Off,
        PersistedMode::Apq => PersistedQueries::Automatic,
        PersistedMode::Only => {
            let path = settings.persisted_queries_file.as_ref().ok_or(ConfigError::NoManifest)?;
            let manifest = Manifest::load(path).map_err(|e| ConfigError::Manifest(Box::new(e)))?;
            PersistedQueries::Only(Arc::new(manifest))
        }
    })
}

/// How cache writes wait for replicas. The wait is a command within a pipeline, so it must end
/// before the pipeline's own time bound does, or every write would time out instead; and Redis
/// reads a `WAIT` of 0 ms as no bound at all.
fn cache_options(settings: &Settings) -> Result<CacheOptions, ConfigError> {
    let defaults = CacheOptions::default();
    let wait_timeout = Duration::from_millis(settings.redis_wait_timeout_ms);
    if wait_timeout.is_zero() || wait_timeout >= defaults.timeout {
        let (got, bound) = (settings.redis_wait_timeout_ms, defaults.timeout.as_millis());
        return Err(ConfigError::ReplicaWait { got, bound });
    }
    Ok(CacheOptions { wait_replicas: settings.redis_wait_replicas, wait_timeout, ..defaults })
}

/// The shortest retention of events (SPEC §10): a client away for a day still resumes.
const MIN_RETENTION_HOURS: u64 = 24;

fn events(settings: &Settings) -> Result<EventSettings, ConfigError> {
    if settings.events_retention_hours < MIN_RETENTION_HOURS {
        return Err(ConfigError::ShortRetention(settings.events_retention_hours));
    }
    Ok(EventSettings {
        hub: HubLimits {
            per_viewer: settings.subscriptions_per_viewer.max(1),
            buffer: settings.subscription_buffer.max(1),
        },
        poll: Duration::from_millis(settings.events_poll_ms.max(1)),
        retention: Duration::from_secs(settings.events_retention_hours * 3600),
        cleanup: Duration::from_millis(settings.events_cleanup_ms.max(1)),
    })
}

/// A setting that is unset when empty.
fn nonempty(value: &Option<String>) -> Option<String> {
    value.clone().filter(|value| !value.is_empty())
}

/// A secret that lives as long as the process: tokens from an earlier run stop working.
fn random_secret() -> SecretString {
    let bytes: [u8; 32] = rand::random();
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    SecretString::from(hex)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;
    use crate::cli::Cli;

    fn config(args: &[&str]) -> Result<Config, ConfigError> {
        let args = ["followgraph", "--listen-addr=127.0.0.1:0"].iter().chain(args);
        Config::from_settings(&Cli::try_parse_from(args).expect("parses").settings)
    }

    #[test]
    fn a_replica_wait_must_end_within_the_bound_on_every_redis_exchange() {
        let refused = config(&["--redis-wait-timeout-ms=500"]).err();
        assert!(matches!(refused, Some(ConfigError::ReplicaWait { got: 500, bound: 500 })));
        let forever = config(&["--redis-wait-timeout-ms=0"]).err();
        assert!(matches!(forever, Some(ConfigError::ReplicaWait { got: 0, .. })), "{forever:?}");
        let wait = |args: &[&str]| config(args).expect("valid").cache_options.wait_timeout;
        assert_eq!(wait(&["--redis-wait-timeout-ms=400"]), Duration::from_millis(400));
        assert_eq!(wait(&[]), Duration::from_millis(50), "the default");
    }
}

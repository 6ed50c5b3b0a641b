//! The command line: subcommands and settings. Every setting is also read from an environment
//! variable, so that the same binary is configured by flags in development and by the
//! environment in deployment.

use std::net::SocketAddr;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// followgraph: the follow graph of a news app, over GraphQL and the legacy REST paths.
#[derive(Parser)]
#[command(name = "followgraph", version, about)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    #[command(flatten)]
    pub settings: Settings,
}

#[derive(Subcommand, Clone, Copy)]
pub enum Command {
    /// Run the HTTP service (the default when no subcommand is given).
    Serve,
    /// Apply the database migrations and exit.
    Migrate,
    /// Compare every user's following and follower counters with its rows, set those that
    /// differ, and print how many did (while the service and the legacy app go on writing).
    Recount,
    /// Print an access token for a user, signed with JWT_SECRET (for development and scripts).
    Token {
        /// The user id to put in the token's `user_id` claim.
        #[arg(long)]
        user: i64,
        /// Lifetime of the token in seconds.
        #[arg(long, default_value_t = 7200)]
        ttl: u64,
    },
    /// Print the GraphQL schema (SDL).
    Schema,
}

/// Settings shared by all subcommands. No `Debug`: the secret must never be printed.
#[derive(Args, Clone)]
pub struct Settings {
    /// `postgres://…` or `sqlite://…`. Default: `followgraph.db` in the working directory.
    #[arg(long, env = "DATABASE_URL", global = true)]
    pub database_url: Option<String>,
    /// Most database connections this process opens.
    #[arg(long, env = "DATABASE_MAX_CONNECTIONS", global = true, default_value_t = 16)]
    pub database_max_connections: u32,
    /// `redis://…` for the following cache. Unset: no cache (unless REDIS_CLUSTER_NODES).
    #[arg(long, env = "REDIS_URL", global = true)]
    pub redis_url: Option<String>,
    /// `host:port,host:port`: some nodes of a Redis Cluster holding the cache, instead of
    /// REDIS_URL.
    #[arg(long, env = "REDIS_CLUSTER_NODES", global = true)]
    pub redis_cluster_nodes: Option<String>,
    /// `redis://…` or `redis+sentinel://host:port,host:port/master-name`: a Redis of their own
    /// for the count zsets. Unset: they live with the rest of the cache.
    #[arg(long, env = "REDIS_COUNTS_URL", global = true)]
    pub redis_counts_url: Option<String>,
    /// Replicas a cache write must reach on a Redis Cluster or under Sentinel before it counts
    /// as done, so that a failover cannot lose it; 0: do not wait.
    #[arg(long, env = "REDIS_WAIT_REPLICAS", global = true, default_value_t = 1)]
    pub redis_wait_replicas: u32,
    /// How long a cache write waits for those replicas, in ms; one they do not confirm in time
    /// counts as failed (its users are repaired). From 1 to 499 (the bound on every Redis
    /// exchange is 500 ms).
    #[arg(long, env = "REDIS_WAIT_TIMEOUT_MS", global = true, default_value_t = 50)]
    pub redis_wait_timeout_ms: u64,
    /// HS256 secret shared with the legacy app. Unset: loopback-only development mode.
    #[arg(long, env = "JWT_SECRET", global = true, hide_env_values = true)]
    pub jwt_secret: Option<String>,
    /// Address to listen on.
    #[arg(long, env = "LISTEN_ADDR", global = true, default_value = "127.0.0.1:8000")]
    pub listen_addr: SocketAddr,
    /// Largest request body accepted on any route, in bytes.
    #[arg(long, env = "MAX_BODY_BYTES", global = true, default_value_t = 64 * 1024)]
    pub max_body_bytes: usize,
    /// Longest time a request may take before it is answered 408 (a write already started still
    /// completes).
    #[arg(long, env = "REQUEST_TIMEOUT_MS", global = true, default_value_t = 10_000)]
    pub request_timeout_ms: u64,
    /// Longest time a client may take to send its request headers (slowloris protection).
    #[arg(long, env = "HEADER_READ_TIMEOUT_MS", global = true, default_value_t = 10_000)]
    pub header_read_timeout_ms: u64,
    /// Requests a minute per viewer (or per address when anonymous); 0 turns the limit off.
    #[arg(long, env = "RATE_LIMIT_PER_MINUTE", global = true, default_value_t = 1200)]
    pub rate_limit_per_minute: u32,
    /// On SIGTERM, how long to keep serving with readiness failed before stopping, so that a
    /// load balancer sees it and stops sending. Default: 2000, or 0 in development mode.
    #[arg(long, env = "SHUTDOWN_DRAIN_MS", global = true)]
    pub shutdown_drain_ms: Option<u64>,
    /// Frontend origins allowed by CORS, comma-separated (`*` for any). Unset: none.
    #[arg(long, env = "CORS_ORIGINS", global = true, value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Deepest field nesting a GraphQL query may have.
    #[arg(long, env = "GRAPHQL_MAX_DEPTH", global = true, default_value_t = 10)]
    pub graphql_max_depth: usize,
    /// Highest GraphQL query cost (a connection costs its `first` times its children).
    #[arg(long, env = "GRAPHQL_MAX_COMPLEXITY", global = true, default_value_t = 5000)]
    pub graphql_max_complexity: usize,
    /// Most aliased fields in one GraphQL document.
    #[arg(long, env = "GRAPHQL_MAX_ALIASES", global = true, default_value_t = 30)]
    pub graphql_max_aliases: usize,
    /// Whether GraphQL introspection (and field suggestions) are on; GraphiQL needs them.
    #[arg(long, env = "GRAPHQL_INTROSPECTION", global = true, default_value_t = true, action = clap::ArgAction::Set)]
    pub graphql_introspection: bool,
    /// Persisted queries: `apq` (Apollo's automatic persisted queries, shared through Redis when
    /// configured), `only` (trusted documents: only those of PERSISTED_QUERIES_FILE run), `off`.
    #[arg(long, env = "PERSISTED_QUERIES", global = true, value_enum, default_value_t = PersistedMode::Apq)]
    pub persisted_queries: PersistedMode,
    /// The trusted documents for `PERSISTED_QUERIES=only`: a JSON map of sha256 → document, or
    /// an Apollo persisted query manifest.
    #[arg(long, env = "PERSISTED_QUERIES_FILE", global = true)]
    pub persisted_queries_file: Option<std::path::PathBuf>,
    /// Report each GraphQL response's database and Redis round trips in
    /// `extensions.roundTrips`.
    #[arg(long, env = "EXPOSE_ROUND_TRIPS", global = true)]
    pub expose_round_trips: bool,
    /// `amqp://…`: events travel between instances through this RabbitMQ, one consumer per
    /// instance. Unset: an instance delivers its own events at once and other instances' within
    /// EVENTS_POLL_MS.
    #[arg(long, env = "EVENTS_AMQP_URL", global = true)]
    pub events_amqp_url: Option<String>,
    /// `amqp://…`: also publish each follow as the legacy IM server's `following notify` (the
    /// message python-socketio's KombuManager consumes).
    #[arg(long, env = "LEGACY_NOTIFY_AMQP_URL", global = true)]
    pub legacy_notify_amqp_url: Option<String>,
    /// How long events are kept for subscriptions that resume with `after`, in hours (24 at
    /// least).
    #[arg(long, env = "EVENTS_RETENTION_HOURS", global = true, default_value_t = 48)]
    pub events_retention_hours: u64,
    /// How often the retention cleanup runs, in milliseconds.
    #[arg(long, env = "EVENTS_CLEANUP_MS", global = true, default_value_t = 60_000)]
    pub events_cleanup_ms: u64,
    /// How often each instance asks the outbox for events that reached its subscribers no
    /// other way, in milliseconds.
    #[arg(long, env = "EVENTS_POLL_MS", global = true, default_value_t = 2_000)]
    pub events_poll_ms: u64,
    /// Subscriptions one viewer may hold on one instance.
    #[arg(long, env = "SUBSCRIPTIONS_PER_VIEWER", global = true, default_value_t = 16)]
    pub subscriptions_per_viewer: usize,
    /// Subscriptions one WebSocket connection may hold.
    #[arg(long, env = "SUBSCRIPTIONS_PER_CONNECTION", global = true, default_value_t = 8)]
    pub subscriptions_per_connection: usize,
    /// Events waiting for one subscriber before it is cut off (its socket closes with 1013).
    #[arg(long, env = "SUBSCRIPTION_BUFFER", global = true, default_value_t = 256)]
    pub subscription_buffer: usize,
    /// Log format: human-readable lines or one JSON object per line.
    #[arg(long, env = "LOG_FORMAT", global = true, value_enum, default_value_t = LogFormat::Human)]
    pub log_format: LogFormat,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum PersistedMode {
    Apq,
    Only,
    Off,
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum LogFormat {
    Human,
    Json,
}

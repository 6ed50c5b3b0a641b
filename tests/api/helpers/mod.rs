//! `TestApp`: a real followgraph on a loopback port, over a fresh database of the chosen backend,
//! with helpers that speak GraphQL and legacy REST and read rows back for assertions. One builder
//! makes every app: `TestApp::on(backend).cached().tune(…).spawn()`.

mod binary;
mod database;
mod haproxy;
mod im_server;
mod legacy;
mod mariadb;
mod rabbitmq;
mod redis;
mod topology;

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use clap::Parser;
use followgraph::app;
use followgraph::cli::{Cli, Settings};
use followgraph::config::Config;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

pub use binary::{run_command, Binary};
pub use database::{Backend, RelationRow, TestDatabase};
pub use haproxy::Haproxy;
pub use im_server::ImServer;
pub use legacy::LegacyApp;
pub use mariadb::PrivateMariadb;
pub use rabbitmq::{amqp_addr, amqp_url};
pub use redis::{free_port, redis_connection, redis_url, PrivateRedis};
pub use topology::{legacy_topology, sentinel_master, RedisCluster, Sentineled, TestRedis};

/// The secret every test app signs with; the PyJWT fixture was minted with it.
pub const SECRET: &str = "followgraph-test-secret";

/// A user that exists in `user_basic`, with a valid access token.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: i64,
    pub token: String,
}

/// One set-up of the behaviour suite: a backend, with or without the cache. The constructors
/// carry the names the suite macros give the tests.
#[derive(Debug, Clone, Copy)]
pub struct Setup {
    pub backend: Backend,
    pub cache: CacheKind,
}

/// The cache of a set-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheKind {
    None,
    /// The shared Redis's database for the backend.
    Redis,
    /// The legacy topology: per-user keys on a Redis Cluster, counts on a Sentinel-managed
    /// Redis of their own (SPEC §13).
    Legacy,
}

impl Setup {
    pub fn sqlite() -> Setup {
        Setup { backend: Backend::Sqlite, cache: CacheKind::None }
    }

    pub fn sqlite_redis() -> Setup {
        Setup { backend: Backend::Sqlite, cache: CacheKind::Redis }
    }

    pub fn postgres() -> Setup {
        Setup { backend: Backend::Postgres, cache: CacheKind::None }
    }

    pub fn postgres_redis() -> Setup {
        Setup { backend: Backend::Postgres, cache: CacheKind::Redis }
    }

    /// PostgreSQL with the legacy Redis topology: a cluster and a Sentinel-managed counts Redis.
    pub fn postgres_cluster() -> Setup {
        Setup { backend: Backend::Postgres, cache: CacheKind::Legacy }
    }

    pub fn mysql() -> Setup {
        Setup { backend: Backend::Mysql, cache: CacheKind::None }
    }

    pub fn mysql_redis() -> Setup {
        Setup { backend: Backend::Mysql, cache: CacheKind::Redis }
    }

    /// A builder for this set-up's app, to tune before it spawns.
    pub fn app(self) -> AppBuilder {
        let builder = TestApp::on(self.backend);
        match self.cache {
            CacheKind::None => builder,
            CacheKind::Redis => builder.cached(),
            CacheKind::Legacy => builder.legacy_topology(),
        }
    }

    /// Runs `test` on an app of this set-up, then tears it down (checking the cache). Skips
    /// when the set-up's servers are absent outside CI.
    pub async fn run(self, test: impl AsyncFnOnce(&TestApp)) {
        let Some(app) = self.app().spawn().await else { return };
        test(&app).await;
        app.teardown().await;
    }

    /// Runs `test`, which builds its own app from this set-up.
    pub async fn hand_to(self, test: impl AsyncFnOnce(Setup)) {
        test(self).await;
    }
}

/// Where an app's cache is.
enum CacheChoice {
    None,
    /// The shared Redis's database for the backend.
    Shared,
    Url(String),
    /// The shared legacy topology.
    Legacy,
    /// A cluster of the test's own (its nodes), the counts with the rest.
    Cluster(String),
}

/// Where a test app's cache is, as its settings name it.
#[derive(Debug, Clone, Default)]
pub struct CacheAt {
    pub url: Option<String>,
    pub cluster_nodes: Option<String>,
    pub counts_url: Option<String>,
}

impl CacheAt {
    fn url(url: String) -> CacheAt {
        CacheAt { url: Some(url), ..CacheAt::default() }
    }

    pub fn apply(&self, settings: &mut Settings) {
        settings.redis_url = self.url.clone();
        settings.redis_cluster_nodes = self.cluster_nodes.clone();
        settings.redis_counts_url = self.counts_url.clone();
    }

    /// The settings as environment variables, for the binary.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let vars = [
            ("REDIS_URL", &self.url),
            ("REDIS_CLUSTER_NODES", &self.cluster_nodes),
            ("REDIS_COUNTS_URL", &self.counts_url),
        ];
        vars.into_iter().filter_map(|(name, value)| Some((name, value.clone()?))).collect()
    }

    /// Direct connections for assertions: to the keys, and to the counts (the same Redis
    /// unless they live apart). The shared topology's counts master is reached directly.
    async fn connections(&self) -> (Option<TestRedis>, Option<TestRedis>) {
        let main = match (&self.url, &self.cluster_nodes) {
            (Some(url), _) => redis_connection(url).await.map(TestRedis::Node),
            (None, Some(nodes)) => Some(RedisCluster::connect(nodes).await),
            (None, None) => None,
        };
        let counts = match &self.counts_url {
            Some(url) if url.starts_with("redis+sentinel://") => {
                redis_connection(&sentinel_master(url)).await.map(TestRedis::Node)
            }
            Some(url) => redis_connection(url).await.map(TestRedis::Node),
            None => main.clone(),
        };
        (main, counts)
    }
}

type Tune = Box<dyn FnOnce(&mut Settings)>;

/// How a test app is made: the backend, the cache, and changes to the default settings.
pub struct AppBuilder {
    backend: Backend,
    cache: CacheChoice,
    tunes: Vec<Tune>,
    /// A MySQL server other than the shared one, by its admin URL.
    mysql_server: Option<String>,
    /// The counts' own Redis, if apart.
    counts_url: Option<String>,
}

impl AppBuilder {
    /// Turns the cache on, in the shared Redis's database for this backend.
    pub fn cached(mut self) -> AppBuilder {
        self.cache = CacheChoice::Shared;
        self
    }

    /// Turns the cache on in the shared legacy topology: a cluster, and the counts apart.
    pub fn legacy_topology(mut self) -> AppBuilder {
        self.cache = CacheChoice::Legacy;
        self
    }

    /// Turns the cache on in a Redis Cluster of the test's own.
    pub fn redis_cluster(mut self, nodes: impl Into<String>) -> AppBuilder {
        self.cache = CacheChoice::Cluster(nodes.into());
        self
    }

    /// Puts the count zsets on a Redis of their own (`redis://…` or `redis+sentinel://…`).
    pub fn counts_url(mut self, url: impl Into<String>) -> AppBuilder {
        self.counts_url = Some(url.into());
        self
    }

    /// Turns the cache on at `url` (a private Redis, a closed port, another app's Redis).
    pub fn redis_url(mut self, url: impl Into<String>) -> AppBuilder {
        self.cache = CacheChoice::Url(url.into());
        self
    }

    /// Makes the app's MySQL database on the server of `admin_url` (a private server).
    pub fn mysql_server(mut self, admin_url: impl Into<String>) -> AppBuilder {
        self.mysql_server = Some(admin_url.into());
        self
    }

    /// Changes the settings before the app is built.
    pub fn tune(mut self, tune: impl FnOnce(&mut Settings) + 'static) -> AppBuilder {
        self.tunes.push(Box::new(tune));
        self
    }

    /// A running app on a fresh database; `None` when a server it needs is absent outside CI.
    pub async fn spawn(self) -> Option<TestApp> {
        let mut cache_at = match self.cache {
            CacheChoice::None => CacheAt::default(),
            CacheChoice::Shared => CacheAt::url(redis_url(self.backend).await?),
            CacheChoice::Url(url) => CacheAt::url(url),
            CacheChoice::Cluster(nodes) => {
                CacheAt { cluster_nodes: Some(nodes), ..CacheAt::default() }
            }
            CacheChoice::Legacy => {
                let topology = legacy_topology();
                CacheAt {
                    cluster_nodes: Some(topology.cluster_nodes.clone()),
                    counts_url: Some(topology.counts_url.clone()),
                    ..CacheAt::default()
                }
            }
        };
        let database = match &self.mysql_server {
            Some(admin_url) => TestDatabase::create_mysql_on(admin_url).await?,
            None => TestDatabase::create(self.backend).await?,
        };
        let mut settings = settings_for(database.url());
        if let Some(url) = self.counts_url {
            cache_at.counts_url = Some(url);
        }
        cache_at.apply(&mut settings);
        for tune in self.tunes {
            tune(&mut settings);
        }
        let (addr, stop) = serve(&settings).await;
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        let (redis, counts_redis) = cache_at.connections().await;
        Some(TestApp {
            addr,
            client,
            database,
            redis,
            counts_redis,
            redis_url: cache_at.url.clone(),
            cache_at,
            users: Mutex::new(Vec::new()),
            stop: Some(stop),
        })
    }
}

/// Builds an app from `settings` and serves it on a loopback port until the sender is dropped.
async fn serve(settings: &Settings) -> (SocketAddr, oneshot::Sender<()>) {
    let config = Config::from_settings(settings).expect("config");
    let built = app::build(&config).await.expect("app builds");
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let (stop, stopped) = oneshot::channel::<()>();
    let header_timeout = config.header_read_timeout;
    tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.await;
        };
        followgraph::server::serve(listener, built.router, shutdown, header_timeout)
            .await
            .expect("serve");
    });
    (addr, stop)
}

/// One more instance of the service on a test app's database and Redis, as another one behind
/// a load balancer would be; stopped when dropped.
pub struct Instance {
    pub addr: SocketAddr,
    _stop: oneshot::Sender<()>,
}

pub struct TestApp {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// The test's own handle on the app's database.
    pub database: TestDatabase,
    /// A direct connection to the app's Redis database (or cluster), when it has a cache.
    pub redis: Option<TestRedis>,
    /// A direct connection to the Redis of the app's count zsets.
    pub counts_redis: Option<TestRedis>,
    /// The app's Redis URL, when its cache is on one Redis.
    pub redis_url: Option<String>,
    /// Where the app's cache is, as the settings name it.
    pub cache_at: CacheAt,
    /// Every user this test made: the teardown checks their cached data against the database.
    users: Mutex<Vec<i64>>,
    stop: Option<oneshot::Sender<()>>,
}

impl TestApp {
    /// The builder of an app on `backend`, without a cache and with the test settings.
    pub fn on(backend: Backend) -> AppBuilder {
        AppBuilder {
            backend,
            cache: CacheChoice::None,
            tunes: Vec::new(),
            mysql_server: None,
            counts_url: None,
        }
    }

    /// Checks the counters and the cache of every user the test made against the rows, and
    /// stops the server; the database goes with the app.
    pub async fn teardown(mut self) {
        let users = self.users.lock().unwrap().clone();
        self.database.assert_counts_match(&users).await;
        self.assert_cache_matches(&users).await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Starts another instance on this app's database and Redis, with `tune` applied to the
    /// test settings.
    pub async fn another_instance(&self, tune: impl FnOnce(&mut Settings)) -> Instance {
        let mut settings = settings_for(self.database.url());
        self.cache_at.apply(&mut settings);
        tune(&mut settings);
        let (addr, stop) = serve(&settings).await;
        Instance { addr, _stop: stop }
    }

    /// Inserts `n` users with ids unique to this test and returns them with tokens.
    pub async fn actors(&self, n: usize) -> Vec<Actor> {
        // From 4 billion blocks: the count zsets in the shared Redis outlive test runs, so ids
        // must not meet those of earlier runs either.
        let base = i64::from(rand::random::<u32>()) * 1_000 + 1_000_000;
        let mut actors = Vec::with_capacity(n);
        for i in 0..n as i64 {
            let id = base + i;
            self.database.insert_user(id, &format!("user {id}")).await;
            self.users.lock().unwrap().push(id);
            actors
                .push(Actor { id, token: token(json!({ "user_id": id, "refresh": false }), 3600) });
        }
        actors
    }

    /// The row `user → target`, if any.
    pub async fn relation(&self, user: i64, target: i64) -> Option<RelationRow> {
        let rows = self.database.relation_rows(user, target).await;
        assert!(rows.len() <= 1, "more than one row for one pair: {rows:?}");
        rows.into_iter().next()
    }

    /// POSTs a GraphQL request with an optional raw `Authorization` header value.
    pub async fn graphql_with(
        &self,
        authorization: Option<&str>,
        query: &str,
        variables: Value,
    ) -> Value {
        // application/json: errors of requests that never ran come with 200, so that every test
        // reads codes the same way (graphql_http.rs tests the other media type).
        let mut request =
            self.client.post(self.url("/graphql")).header("accept", "application/json");
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        let response = request
            .json(&json!({ "query": query, "variables": variables }))
            .send()
            .await
            .expect("graphql request");
        let status = response.status();
        let text = response.text().await.expect("graphql body");
        assert_eq!(status, StatusCode::OK, "{text}");
        serde_json::from_str(&text).expect("graphql json")
    }

    /// POSTs a GraphQL request as `actor` (or anonymously).
    pub async fn graphql(&self, actor: Option<&Actor>, query: &str, variables: Value) -> Value {
        let header = actor.map(|a| format!("Bearer {}", a.token));
        self.graphql_with(header.as_deref(), query, variables).await
    }

    /// `followUser` or `unfollowUser` through GraphQL.
    pub async fn gql_act(&self, actor: &Actor, mutation: &str, target: Value) -> Value {
        let query = format!(
            "mutation($t: ID!) {{ {mutation}(target: $t) {{ target user {{ id followersCount viewerIsFollowing }} }} }}"
        );
        self.graphql(Some(actor), &query, json!({ "t": target })).await
    }

    /// `POST /app/v1_0/user/followings` with a raw `Authorization` header value and JSON body.
    pub async fn rest_follow_with(
        &self,
        authorization: Option<&str>,
        body: Value,
    ) -> (StatusCode, Value) {
        let mut request = self.client.post(self.url("/app/v1_0/user/followings"));
        if let Some(value) = authorization {
            request = request.header("Authorization", value);
        }
        read(request.json(&body).send().await.expect("rest request")).await
    }

    /// `POST /app/v1_0/user/followings` as `actor`.
    pub async fn rest_follow(&self, actor: &Actor, target: Value) -> (StatusCode, Value) {
        let header = format!("Bearer {}", actor.token);
        self.rest_follow_with(Some(&header), json!({ "target": target })).await
    }

    /// `DELETE /app/v1_0/user/followings/{target}` as `actor`.
    pub async fn rest_unfollow(&self, actor: &Actor, target: &str) -> (StatusCode, Value) {
        let url = self.url(&format!("/app/v1_0/user/followings/{target}"));
        let request = self.client.delete(url).bearer_auth(&actor.token);
        read(request.send().await.expect("rest request")).await
    }

    /// `followingCount` and `followersCount` of a user, read through GraphQL.
    pub async fn counts(&self, user: i64) -> (i64, i64) {
        let query = "query($id: ID!) { user(id: $id) { followingCount followersCount } }";
        let body = self.graphql(None, query, json!({ "id": user.to_string() })).await;
        let u = &body["data"]["user"];
        (u["followingCount"].as_i64().expect("count"), u["followersCount"].as_i64().expect("count"))
    }
}

/// Status and JSON body of a response.
pub async fn read(response: reqwest::Response) -> (StatusCode, Value) {
    let status = response.status();
    let body = response.json().await.unwrap_or(Value::Null);
    (status, body)
}

/// The `extensions.code` of the first GraphQL error, if any.
pub fn error_code(body: &Value) -> Option<&str> {
    body["errors"][0]["extensions"]["code"].as_str()
}

/// An HS256 token over `claims` plus an `exp` `ttl` seconds from now (negative: in the past).
pub fn token(claims: Value, ttl: i64) -> String {
    sign(Algorithm::HS256, SECRET, claims, ttl)
}

/// A token signed with any algorithm of the HMAC family and any secret.
pub fn sign(alg: Algorithm, secret: &str, mut claims: Value, ttl: i64) -> String {
    let exp = chrono::Utc::now().timestamp() + ttl;
    claims["exp"] = json!(exp);
    let key = EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&Header::new(alg), &claims, &key).expect("sign")
}

/// How long the tests' cache writes wait for a replica (`REDIS_WAIT_TIMEOUT_MS`): the 50 ms of
/// production is a loopback replication round trip many times over on an idle machine, but not
/// always on a loaded CI machine, where a missed wait sends the users to repair and a test that
/// expects them cached fails.
pub const REPLICA_WAIT_MS: u64 = 400;

/// The settings a test app on `database_url` runs with, without a cache.
pub fn settings_for(database_url: &str) -> Settings {
    let args = vec![
        "followgraph".to_owned(),
        format!("--database-url={database_url}"),
        format!("--jwt-secret={SECRET}"),
        "--listen-addr=127.0.0.1:0".to_owned(),
        "--expose-round-trips".to_owned(),
        "--rate-limit-per-minute=0".to_owned(),
        format!("--redis-wait-timeout-ms={REPLICA_WAIT_MS}"),
    ];
    Cli::try_parse_from(args).expect("test settings parse").settings
}

//! `TestApp`: a real followgraph on a loopback port, over a fresh database of the chosen backend,
//! with helpers that speak GraphQL and legacy REST and read rows back for assertions.

use std::net::SocketAddr;
use std::sync::Mutex;
use std::time::Duration;

use bb8_redis::redis::{self, AsyncCommands};
use chrono::{DateTime, Utc};
use clap::Parser;
use followgraph::app;
use followgraph::cli::{Cli, Settings};
use followgraph::config::Config;
use followgraph::db::Store;
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::postgres::PgPoolOptions;
use sqlx::{Connection, PgConnection};
use tempfile::TempDir;
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// The secret every test app signs with; the PyJWT fixture was minted with it.
pub const SECRET: &str = "followgraph-test-secret";

/// Which database a test runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A user that exists in `user_basic`, with a valid access token.
#[derive(Debug, Clone)]
pub struct Actor {
    pub id: i64,
    pub token: String,
}

/// One `user_relation` row as stored.
#[derive(Debug, Clone, PartialEq, sqlx::FromRow)]
pub struct RelationRow {
    pub relation: i16,
    pub create_time: DateTime<Utc>,
    pub update_time: DateTime<Utc>,
}

pub struct TestApp {
    pub addr: SocketAddr,
    /// The database this app runs on, for a second process on the same data.
    pub database_url: String,
    pub client: reqwest::Client,
    pub store: Store,
    /// A direct connection to the app's Redis database, when it has a cache.
    pub redis: Option<redis::aio::MultiplexedConnection>,
    /// The app's Redis URL, when it has a cache.
    pub redis_url: Option<String>,
    /// Every user this test made: the teardown checks their cached data against the database.
    users: Mutex<Vec<i64>>,
    postgres_db: Option<String>,
    _dir: Option<TempDir>,
    stop: Option<oneshot::Sender<()>>,
}

impl TestApp {
    /// A running app on a fresh database; `None` when PostgreSQL is asked for but absent outside
    /// CI (in CI, `CI` is set and an absent server fails the test).
    pub async fn spawn(backend: Backend) -> Option<TestApp> {
        Self::spawn_with(backend, None).await
    }

    /// A running app for a suite variant: `sqlite`, `sqlite_redis`, `postgres`, `postgres_redis`.
    pub async fn variant(name: &str) -> Option<TestApp> {
        let backend =
            if name.starts_with("postgres") { Backend::Postgres } else { Backend::Sqlite };
        if name.ends_with("_redis") {
            Self::spawn_cached(backend).await
        } else {
            Self::spawn(backend).await
        }
    }

    /// A running app with the cache on, in a Redis database of its own per backend.
    pub async fn spawn_cached(backend: Backend) -> Option<TestApp> {
        let url = redis_url(backend).await?;
        Self::spawn_with(backend, Some(url)).await
    }

    /// A running app with the given Redis URL (or none).
    pub async fn spawn_with(backend: Backend, redis_url: Option<String>) -> Option<TestApp> {
        Self::spawn_tuned(backend, redis_url, |_| {}).await
    }

    /// A running app whose settings `tune` may change first.
    pub async fn spawn_tuned(
        backend: Backend,
        redis_url: Option<String>,
        tune: impl FnOnce(&mut Settings),
    ) -> Option<TestApp> {
        let (database_url, postgres_db, dir) = match backend {
            Backend::Sqlite => {
                let dir = tempfile::tempdir().expect("temp dir");
                let url = format!("sqlite://{}", dir.path().join("test.db").display());
                (url, None, Some(dir))
            }
            Backend::Postgres => {
                let (url, name) = fresh_postgres_database().await?;
                (url, Some(name), None)
            }
        };
        let mut settings = settings(database_url.clone(), redis_url.clone());
        tune(&mut settings);
        let config = Config::from_settings(&settings).expect("config");
        let built = app::build(&config).await.expect("app builds");
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let (stop, stopped) = oneshot::channel::<()>();
        let header_timeout = config.header_read_timeout;
        let router = built.router;
        tokio::spawn(async move {
            let shutdown = async move {
                let _ = stopped.await;
            };
            followgraph::server::serve(listener, router, shutdown, header_timeout)
                .await
                .expect("serve");
        });
        let client =
            reqwest::Client::builder().timeout(Duration::from_secs(30)).build().expect("client");
        let store = built.service.store().clone();
        let redis = match &redis_url {
            Some(url) => redis_connection(url).await,
            None => None,
        };
        let users = Mutex::new(Vec::new());
        Some(TestApp {
            addr,
            database_url,
            client,
            store,
            redis,
            redis_url,
            users,
            postgres_db,
            _dir: dir,
            stop: Some(stop),
        })
    }

    /// Checks the cache against the database, stops the server and drops the PostgreSQL
    /// database made for this test.
    pub async fn teardown(mut self) {
        self.assert_cache_matches_database().await;
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.store.close().await;
        if let Some(name) = self.postgres_db.take() {
            drop_database(&name).await;
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// Inserts `n` users with ids unique to this test and returns them with tokens.
    pub async fn actors(&self, n: usize) -> Vec<Actor> {
        let base = i64::from(rand::random::<u32>() % 1_000_000) * 1_000 + 1_000_000;
        let mut actors = Vec::with_capacity(n);
        for i in 0..n as i64 {
            let id = base + i;
            self.insert_user(id, &format!("user {id}")).await;
            self.users.lock().unwrap().push(id);
            actors
                .push(Actor { id, token: token(json!({ "user_id": id, "refresh": false }), 3600) });
        }
        actors
    }

    /// Inserts one row into `user_basic`, the way the legacy user service would.
    pub async fn insert_user(&self, id: i64, name: &str) {
        let sql = "INSERT INTO user_basic (user_id, user_name) VALUES ($1, $2)";
        let done = match &self.store {
            Store::Postgres(pool) => {
                sqlx::query(sql).bind(id).bind(name).execute(pool).await.map(drop)
            }
            Store::Sqlite(db) => {
                sqlx::query(sql).bind(id).bind(name).execute(&db.write).await.map(drop)
            }
        };
        done.expect("insert user");
    }

    /// The row `user → target`, if any.
    pub async fn relation(&self, user: i64, target: i64) -> Option<RelationRow> {
        let rows = self.relation_rows(user, target).await;
        assert!(rows.len() <= 1, "more than one row for one pair: {rows:?}");
        rows.into_iter().next()
    }

    /// Every row `user → target` (the unique constraint allows at most one).
    pub async fn relation_rows(&self, user: i64, target: i64) -> Vec<RelationRow> {
        let sql = "SELECT relation, create_time, update_time FROM user_relation \
                   WHERE user_id = $1 AND target_user_id = $2";
        match &self.store {
            Store::Postgres(pool) => {
                sqlx::query_as(sql).bind(user).bind(target).fetch_all(pool).await
            }
            Store::Sqlite(db) => {
                sqlx::query_as(sql).bind(user).bind(target).fetch_all(&db.read).await
            }
        }
        .expect("read relation")
    }

    /// A connection of its own that holds the row `user → target` locked in an open transaction
    /// (PostgreSQL), so that a write of the pair waits; `ROLLBACK` on it lets the write go on.
    pub async fn lock_relation_row(&self, user: i64, target: i64) -> PgConnection {
        let Store::Postgres(pool) = &self.store else { panic!("a PostgreSQL app") };
        let database = pool.connect_options().get_database().map(str::to_owned).unwrap();
        let base = postgres_admin_url();
        let (base, _) = base.rsplit_once('/').expect("url has a database");
        let mut blocker = PgConnection::connect(&format!("{base}/{database}")).await.unwrap();
        sqlx::query("BEGIN").execute(&mut blocker).await.unwrap();
        let sql =
            "SELECT 1 FROM user_relation WHERE user_id = $1 AND target_user_id = $2 FOR UPDATE";
        sqlx::query(sql).bind(user).bind(target).execute(&mut blocker).await.unwrap();
        blocker
    }

    /// The name of this test's PostgreSQL database, if it has one.
    pub fn postgres_database(&self) -> Option<&str> {
        self.postgres_db.as_deref()
    }

    /// Renames a database, first ending every session on it (the app's pool reconnects on its
    /// own, so the rename is retried until no session is left in between).
    pub async fn rename_postgres_database(&self, from: &str, to: &str) {
        let mut admin = PgConnection::connect(&postgres_admin_url()).await.expect("admin");
        for _ in 0..50 {
            let end = "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1";
            sqlx::query(end).bind(from).execute(&mut admin).await.expect("terminate");
            let rename = format!("ALTER DATABASE {from} RENAME TO {to}");
            if sqlx::query(&rename).execute(&mut admin).await.is_ok() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("could not rename {from}");
    }

    /// How many relation rows involve `user` on either side.
    pub async fn rows_touching(&self, user: i64) -> i64 {
        let sql = "SELECT count(*) FROM user_relation WHERE user_id = $1 OR target_user_id = $1";
        let (n,): (i64,) = match &self.store {
            Store::Postgres(pool) => sqlx::query_as(sql).bind(user).fetch_one(pool).await,
            Store::Sqlite(db) => sqlx::query_as(sql).bind(user).fetch_one(&db.read).await,
        }
        .expect("count rows");
        n
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
        assert_eq!(response.status(), StatusCode::OK);
        response.json().await.expect("graphql json")
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

/// The settings a test app runs with: the service's own defaults, as the command line makes
/// them, plus the test database, cache, secret, and the round-trip report.
fn settings(database_url: String, redis_url: Option<String>) -> Settings {
    let mut settings = settings_for(&database_url);
    if let Some(url) = redis_url {
        settings.redis_url = Some(url);
    }
    settings
}

/// The settings a test app on `database_url` runs with, without a cache.
pub fn settings_for(database_url: &str) -> Settings {
    let args = vec![
        "followgraph".to_owned(),
        format!("--database-url={database_url}"),
        format!("--jwt-secret={SECRET}"),
        "--listen-addr=127.0.0.1:0".to_owned(),
        "--expose-round-trips".to_owned(),
        "--rate-limit-per-minute=0".to_owned(),
    ];
    Cli::try_parse_from(args).expect("test settings parse").settings
}

fn postgres_admin_url() -> String {
    std::env::var("TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".to_owned())
}

/// Creates an empty database for one test. Databases left by crashed runs are dropped once
/// they are an hour old, so the server does not fill up.
async fn fresh_postgres_database() -> Option<(String, String)> {
    let admin_url = postgres_admin_url();
    let mut admin = match PgConnection::connect(&admin_url).await {
        Ok(conn) => conn,
        Err(err) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping a PostgreSQL test: {err} (set CI=1 to make this a failure)");
            return None;
        }
        Err(err) => panic!("PostgreSQL is required in CI: {err}"),
    };
    drop_stale_databases(&mut admin).await;
    let name = format!("fgtest_{}_{:08x}", Utc::now().timestamp(), rand::random::<u32>());
    sqlx::query(&format!("CREATE DATABASE {name}")).execute(&mut admin).await.expect("create db");
    let base = admin_url.rsplit_once('/').map(|(base, _)| base).expect("url has a database");
    Some((format!("{base}/{name}"), name))
}

async fn drop_stale_databases(admin: &mut PgConnection) {
    let cutoff = Utc::now().timestamp() - 3600;
    let names: Vec<(String,)> =
        sqlx::query_as("SELECT datname FROM pg_database WHERE datname LIKE 'fgtest\\_%'")
            .fetch_all(&mut *admin)
            .await
            .expect("list databases");
    for (name,) in names {
        let stamp = name.split('_').nth(1).and_then(|s| s.parse::<i64>().ok());
        if stamp.is_some_and(|s| s < cutoff) {
            let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                .execute(&mut *admin)
                .await;
        }
    }
}

async fn drop_database(name: &str) {
    let pool = PgPoolOptions::new().max_connections(1).connect(&postgres_admin_url()).await;
    if let Ok(pool) = pool {
        let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&pool)
            .await;
        pool.close().await;
    }
}

/// The Redis database a backend's cached tests share (tests use disjoint user ids), or `None`
/// when Redis is absent outside CI.
pub async fn redis_url(backend: Backend) -> Option<String> {
    let base = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let db = match backend {
        Backend::Sqlite => 1,
        Backend::Postgres => 2,
    };
    let url = format!("{}/{db}", base.trim_end_matches('/'));
    let client = redis::Client::open(url.as_str()).expect("redis url");
    match client.get_multiplexed_async_connection().await {
        Ok(_) => Some(url),
        Err(err) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping a Redis test: {err} (set CI=1 to make this a failure)");
            None
        }
        Err(err) => panic!("Redis is required in CI: {err}"),
    }
}

/// A direct connection for assertions; `None` when nothing answers there (a closed port).
pub async fn redis_connection(url: &str) -> Option<redis::aio::MultiplexedConnection> {
    let client = redis::Client::open(url).expect("redis url");
    client.get_multiplexed_async_connection().await.ok()
}

/// A redis-server of the test's own on a free loopback port, so that a test can pause, stop and
/// restart it without touching the shared server. Stopped when dropped.
pub struct PrivateRedis {
    pub port: u16,
    child: Option<std::process::Child>,
}

impl PrivateRedis {
    pub async fn start() -> PrivateRedis {
        let port = free_port();
        let mut redis = PrivateRedis { port, child: None };
        redis.restart().await;
        redis
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// Starts the server (again, empty: it keeps nothing on disk) and waits until it answers.
    pub async fn restart(&mut self) {
        let child = std::process::Command::new("redis-server")
            .args([
                "--port",
                &self.port.to_string(),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
            ])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server is installed");
        self.child = Some(child);
        for _ in 0..100 {
            if redis_connection(&self.url()).await.is_some() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("private redis-server did not start");
    }

    /// Kills the server, as a crash would.
    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A loopback port nothing listens on (just now).
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.local_addr().expect("addr").port()
}

/// A cached list: member id and score in microseconds, sorted by member.
pub type CachedList = Vec<(i64, i64)>;

impl TestApp {
    /// The direct Redis connection; panics for an app without a reachable cache.
    pub fn redis(&self) -> redis::aio::MultiplexedConnection {
        self.redis.clone().expect("this app has a reachable cache")
    }

    /// Connects the direct Redis connection again (after the server restarted).
    pub async fn reconnect_redis(&mut self) {
        let url = self.redis_url.clone().expect("this app has a cache");
        self.redis = redis_connection(&url).await;
    }

    /// A zset as `(member, score in µs)` sorted by member, or `None` when the key is absent.
    pub async fn cached_list(&self, key: &str) -> Option<CachedList> {
        let mut redis = self.redis();
        let exists: bool = redis.exists(key).await.expect("exists");
        if !exists {
            return None;
        }
        let items: Vec<(String, f64)> = redis.zrange_withscores(key, 0, -1).await.expect("zrange");
        let mut list: CachedList = items
            .into_iter()
            .map(|(m, s)| (m.parse().expect("member is an id"), (s * 1e6).round() as i64))
            .collect();
        list.sort();
        Some(list)
    }

    /// A user's list as the database has it, in the cached form.
    pub async fn database_list(&self, user: i64, following: bool) -> CachedList {
        let sql = if following {
            "SELECT target_user_id, update_time FROM user_relation WHERE user_id = $1 AND relation = 1"
        } else {
            "SELECT user_id, update_time FROM user_relation WHERE target_user_id = $1 AND relation = 1"
        };
        let rows: Vec<(i64, DateTime<Utc>)> = match &self.store {
            Store::Postgres(pool) => sqlx::query_as(sql).bind(user).fetch_all(pool).await,
            Store::Sqlite(db) => sqlx::query_as(sql).bind(user).fetch_all(&db.read).await,
        }
        .expect("read list");
        let mut list: CachedList =
            rows.into_iter().map(|(id, t)| (id, t.timestamp_micros())).collect();
        list.sort();
        list
    }

    /// SPEC §5: every cached zset and count that exists for these users equals the database.
    pub async fn assert_cache_matches(&self, users: &[i64]) {
        if self.redis.is_none() {
            return;
        }
        let mut redis = self.redis();
        for &user in users {
            let following = self.database_list(user, true).await;
            let fans = self.database_list(user, false).await;
            if let Some(cached) = self.cached_list(&format!("user:{user}:following")).await {
                assert_eq!(cached, following, "user:{user}:following differs from the database");
            }
            if let Some(cached) = self.cached_list(&format!("user:{user}:fans")).await {
                assert_eq!(cached, fans, "user:{user}:fans differs from the database");
            }
            let count: Option<f64> =
                redis.zscore("count:user:followings", user).await.expect("zscore");
            if let Some(count) = count {
                assert_eq!(count as usize, following.len(), "following count of {user}");
            }
            let count: Option<f64> =
                redis.zscore("count:user:followers", user).await.expect("zscore");
            if let Some(count) = count {
                assert_eq!(count as usize, fans.len(), "follower count of {user}");
            }
        }
    }

    async fn assert_cache_matches_database(&self) {
        let users = self.users.lock().unwrap().clone();
        self.assert_cache_matches(&users).await;
    }
}

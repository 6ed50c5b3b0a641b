//! One integration binary: every test talks to a real followgraph over HTTP, backed by a real
//! database. Tests listed in `backend_suite!` run once per backend and cache set-up, so the
//! backends cannot drift apart.

mod helpers;

/// Runs each named `async fn(&TestApp)` once per set-up, one `#[tokio::test]` each:
/// `suite!([sqlite, postgres_redis] name)` makes `name::sqlite` and `name::postgres_redis`. The
/// bodies are plain functions beside the call, where rustfmt and the compiler see them whole.
/// With the cache on, the teardown checks that every cached zset and count of the test's users
/// equals the database.
macro_rules! suite {
    (@one $call:ident [$($setup:ident),*] $name:ident) => {
        mod $name {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $setup() {
                    $crate::helpers::Setup::$setup().$call(super::$name).await;
                }
            )*
        }
    };
    ($setups:tt $($name:ident),+ $(,)?) => {
        $(suite!(@one run $setups $name);)+
    };
}

/// Like [`suite!`] for tests that tune their app's settings: each named `async fn(Setup)` gets
/// the set-up and builds its app from it (`setup.app().tune(…).spawn()`).
macro_rules! setup_suite {
    ($setups:tt $($name:ident),+ $(,)?) => {
        $(suite!(@one hand_to $setups $name);)+
    };
}

/// The behaviour suite: every backend, each with and without the Redis cache, and PostgreSQL on
/// the legacy Redis topology (a Redis Cluster, the counts on a Sentinel-managed Redis), so the
/// backends and topologies cannot drift apart. A new backend is one more entry in each list.
macro_rules! backend_suite {
    ($($name:ident),+ $(,)?) => {
        suite!([sqlite, sqlite_redis, postgres, postgres_redis, postgres_cluster, mysql, mysql_redis] $($name),+);
    };
}

/// [`backend_suite!`] for tests that tune their settings.
macro_rules! backend_setups {
    ($($name:ident),+ $(,)?) => {
        setup_suite!([sqlite, sqlite_redis, postgres, postgres_redis, postgres_cluster, mysql, mysql_redis] $($name),+);
    };
}

/// Tests of the cache itself, on every backend.
macro_rules! cache_suite {
    ($($name:ident),+ $(,)?) => {
        suite!([sqlite_redis, postgres_redis, postgres_cluster, mysql_redis] $($name),+);
    };
}

mod balanced;
mod batching;
mod blocks;
mod cache;
mod clients;
mod concurrency;
mod connections;
mod counts;
mod crash;
mod event_relay;
mod events;
mod faults;
mod follow;
mod follow_requests;
mod graphql_http;
mod graphql_surface;
mod health;
mod legacy_lists;
mod limits;
mod matrix;
mod mysql;
mod observability;
mod outage;
mod parity;
mod persisted;
mod proxy;
mod relationships;
mod shutdown;
mod side_by_side;
mod socket;
mod tokens;
mod topology;
mod visibility;

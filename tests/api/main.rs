//! One integration binary: every test talks to a real followgraph over HTTP, backed by a real
//! database. Tests written with `backend_suite!` run once per backend, so the backends cannot
//! drift apart.

mod helpers;

/// Defines each test once and runs it on several set-ups, one `#[tokio::test]` each:
/// `suite!([sqlite, postgres_redis] async fn name(app) { … })` makes `name::sqlite` and
/// `name::postgres_redis`. With the cache on, the teardown checks that every cached zset and
/// count of the test's users equals the database.
macro_rules! suite {
    ($variants:tt $(async fn $name:ident($app:ident) $body:block)*) => {$(
        suite!(@one $variants $name $app $body);
    )*};
    (@one [$($variant:ident),*] $name:ident $app:ident $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::helpers::TestApp;

            async fn body($app: &TestApp) $body

            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $variant() {
                    let Some(app) = TestApp::variant(stringify!($variant)).await else { return };
                    body(&app).await;
                    app.teardown().await;
                }
            )*
        }
    };
}

/// The behaviour suite: SQLite and PostgreSQL, each with and without the Redis cache, so the
/// backends cannot drift apart.
macro_rules! backend_suite {
    ($($tests:tt)*) => {
        suite!([sqlite, sqlite_redis, postgres, postgres_redis] $($tests)*);
    };
}

/// Tests of the cache itself, on both backends.
macro_rules! cache_suite {
    ($($tests:tt)*) => {
        suite!([sqlite_redis, postgres_redis] $($tests)*);
    };
}

mod batching;
mod blocks;
mod cache;
mod clients;
mod concurrency;
mod connections;
mod faults;
mod follow;
mod graphql_http;
mod graphql_surface;
mod health;
mod legacy_lists;
mod limits;
mod matrix;
mod observability;
mod outage;
mod parity;
mod persisted;
mod proxy;
mod shutdown;
mod socket;
mod tokens;

//! One integration binary: every test talks to a real followgraph over HTTP, backed by a real
//! database. Tests written with `backend_suite!` run once per backend, so the backends cannot
//! drift apart.

mod helpers;

/// Defines each test once and runs it against SQLite and PostgreSQL, each with and without the
/// Redis cache: `backend_suite! { async fn name(app) { … } }` becomes `name::sqlite`,
/// `name::sqlite_redis`, `name::postgres` and `name::postgres_redis`. With the cache on, the
/// teardown checks that every cached zset and count of the test's users equals the database.
macro_rules! backend_suite {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            use $crate::helpers::{Backend, TestApp};

            async fn body($app: &TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run(TestApp::spawn(Backend::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite_redis() {
                run(TestApp::spawn_cached(Backend::Sqlite).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run(TestApp::spawn(Backend::Postgres).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres_redis() {
                run(TestApp::spawn_cached(Backend::Postgres).await).await
            }

            async fn run(app: Option<TestApp>) {
                let Some(app) = app else { return };
                body(&app).await;
                app.teardown().await;
            }
        }
    )*};
}

mod batching;
mod blocks;
mod cache;
mod concurrency;
mod connections;
mod faults;
mod follow;
mod graphql_surface;
mod health;
mod legacy_lists;
mod limits;
mod matrix;
mod observability;
mod outage;
mod parity;
mod proxy;
mod shutdown;
mod tokens;

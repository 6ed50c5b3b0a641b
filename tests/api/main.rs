//! One integration binary: every test talks to a real followgraph over HTTP, backed by a real
//! database. Tests written with `backend_suite!` run once per backend, so the backends cannot
//! drift apart.

mod helpers;

/// Defines each test once and runs it against SQLite and PostgreSQL:
/// `backend_suite! { async fn name(app) { … } }` becomes `name::sqlite` and `name::postgres`.
macro_rules! backend_suite {
    ($(async fn $name:ident($app:ident) $body:block)*) => {$(
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn body($app: &$crate::helpers::TestApp) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                run($crate::helpers::Backend::Sqlite).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                run($crate::helpers::Backend::Postgres).await
            }

            async fn run(backend: $crate::helpers::Backend) {
                let Some(app) = $crate::helpers::TestApp::spawn(backend).await else { return };
                body(&app).await;
                app.teardown().await;
            }
        }
    )*};
}

mod concurrency;
mod follow;
mod graphql_surface;
mod health;
mod parity;
mod tokens;

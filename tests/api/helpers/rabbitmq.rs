//! The RabbitMQ the event tests use: the shared server on 127.0.0.1:5672 (`TEST_AMQP_URL`).

use std::net::SocketAddr;

/// The broker's URL, `None` (with a notice) when nothing answers outside CI; in CI a missing
/// broker fails the test.
pub async fn amqp_url() -> Option<String> {
    let url = std::env::var("TEST_AMQP_URL")
        .unwrap_or_else(|_| "amqp://guest:guest@127.0.0.1:5672/%2f".into());
    match tokio::net::TcpStream::connect(amqp_addr(&url)).await {
        Ok(_) => Some(url),
        Err(err) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping a RabbitMQ test: {err} (set CI=1 to make this a failure)");
            None
        }
        Err(err) => panic!("RabbitMQ is required in CI: {err}"),
    }
}

/// The `host:port` of an `amqp://user:pass@host:port/vhost` URL.
pub fn amqp_addr(url: &str) -> SocketAddr {
    let rest = url.split_once('@').map_or(url, |(_, rest)| rest);
    let authority = rest.trim_start_matches("amqp://").split('/').next().unwrap_or_default();
    authority.parse().expect("an address in the AMQP URL")
}

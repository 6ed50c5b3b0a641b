//! followgraph serves the follow graph of a news app: who follows whom, who blocked whom, lists
//! and counts. It replaces the "follow user" feature of a legacy Flask app without breaking it:
//! frontend clients get GraphQL, legacy clients keep their REST paths, and both services can run
//! side by side on the legacy `user_relation` table.
//!
//! # Layout
//!
//! Dependencies point down only (`docs/architecture.md` draws it):
//!
//! - transports: [`graphql`] (async-graphql; `graphql/http/` is its only axum code) and
//!   [`rest`] (the legacy shim), plus [`health`]; [`auth`] turns a bearer token into a viewer
//!   for both;
//! - [`service`]: every follow-graph rule, in one place;
//! - [`db`]: the legacy tables on PostgreSQL, MySQL or SQLite, with the service's own (counters,
//!   the event outbox); [`cache`]: the legacy Redis keys; [`broker`]: RabbitMQ, for events
//!   between instances and the legacy IM server's notifications;
//! - [`domain`]: ids, relations and users, with no I/O.
//!
//! Around them: [`cli`] and [`config`] read and validate settings, [`telemetry`] sets up logs,
//! [`app`] assembles the router, [`server`] serves it until shutdown, and [`commands`] runs each
//! subcommand.
//!
//! Only those last six are public: what the binary and the integration tests start the service
//! with. Everything else is `pub(crate)`, so the compiler finds dead code and no caller outside
//! reaches around the service.

#![warn(unreachable_pub)]

pub mod app;
pub mod cli;
pub mod commands;
pub mod config;
pub mod server;
pub mod telemetry;

pub(crate) mod auth;
pub(crate) mod broker;
pub(crate) mod cache;
pub(crate) mod content_type;
pub(crate) mod db;
pub(crate) mod domain;
pub(crate) mod graphql;
pub(crate) mod health;
pub(crate) mod metrics;
pub(crate) mod ratelimit;
pub(crate) mod rest;
pub(crate) mod service;

pub use graphql::sdl;

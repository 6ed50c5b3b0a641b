//! followgraph serves the follow graph of a news app: who follows whom, who blocked whom, lists
//! and counts. It replaces the "follow user" feature of a legacy Flask app without breaking it:
//! frontend clients get GraphQL, legacy clients keep their REST paths, and both services can run
//! side by side on the legacy `user_relation` table.
//!
//! # Layout
//!
//! Dependencies point down only:
//!
//! - transports: [`graphql`] (async-graphql; `graphql/routes.rs` is its only axum file) and
//!   [`rest`] (the legacy shim), plus [`health`]; [`auth`] turns a bearer token into a viewer
//!   for both;
//! - [`service`]: every follow-graph rule, in one place;
//! - [`db`]: the legacy tables on PostgreSQL or SQLite, and [`cache`]: the legacy Redis keys;
//! - [`domain`]: ids, relations and users, with no I/O.
//!
//! Around them: [`cli`] and [`config`] read and validate settings, [`telemetry`] sets up logs,
//! [`app`] assembles the router, [`server`] serves it until shutdown, and [`commands`] runs each
//! subcommand.

pub mod app;
pub mod auth;
pub mod cache;
pub mod cli;
pub mod commands;
pub mod config;
pub mod db;
pub mod domain;
pub mod graphql;
pub mod health;
pub mod http;
pub mod metrics;
pub mod ratelimit;
pub mod rest;
pub mod server;
pub mod service;
pub mod telemetry;

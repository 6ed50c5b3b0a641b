//! The message broker: RabbitMQ over AMQP 0-9-1, through lapin (the maintained AMQP client of
//! the Rust ecosystem, on tokio). Two independent uses, each with its own connection that it
//! reopens after any failure:
//!
//! - [`EventBroker`] (`EVENTS_AMQP_URL`): each instance publishes the events it commits to one
//!   fanout exchange and reads everyone's from a queue of its own, one consumer per instance,
//!   handing them to its subscribers in memory.
//! - [`LegacyNotifier`] (`LEGACY_NOTIFY_AMQP_URL`): the legacy IM server's `following notify`,
//!   in the message form python-socketio's `KombuManager` consumes.
//!
//! Neither is ever on a request's path: a broker that is down only delays what goes through it
//! (docs/events.md says what covers for it meanwhile).

mod events;
mod legacy;
mod link;

pub(crate) use events::{EventBroker, Inbound};
pub(crate) use legacy::{LegacyNotifier, Notice};
pub(crate) use link::LinkStatus;

//! What a resolver takes from the request's context. Every request gets these from
//! [`super::Graphql::run`]; should one ever be missing, the field fails with `INTERNAL` and a
//! log line, never with async-graphql's message, which names Rust types.

use async_graphql::{Context, Result};

use super::error::{code, coded};

/// The request's `T` (the service, the viewer, the DataLoader).
pub(crate) fn state<'c, T: Send + Sync + 'static>(ctx: &Context<'c>) -> Result<&'c T> {
    ctx.data::<T>().map_err(|_| {
        tracing::error!(data = std::any::type_name::<T>(), "request context lacks its data");
        coded("Internal error.", code::INTERNAL)
    })
}

/// The request's DataLoader.
pub(crate) fn loader<'c>(
    ctx: &Context<'c>,
) -> Result<&'c async_graphql::dataloader::DataLoader<super::loaders::GraphLoader>> {
    state(ctx)
}

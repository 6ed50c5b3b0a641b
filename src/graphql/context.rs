//! What a resolver takes from the request's context. Every request gets these from
//! [`super::Graphql::run`]; should one ever be missing, the field fails with `INTERNAL` and a
//! log line, never with async-graphql's message, which names Rust types.

use std::hash::Hash;

use async_graphql::dataloader::Loader;
use async_graphql::{Context, ErrorExtensions, Result};

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

/// One key through the request's DataLoader: the way for a field whose value was not loaded
/// with its list. Boxed, so that the rare path does not size every field's future (the
/// DataLoader's future is large, and each field's future is allocated and moved).
pub(crate) async fn load_one<K>(
    ctx: &Context<'_>,
    key: K,
) -> Result<Option<<super::loaders::GraphLoader as Loader<K>>::Value>>
where
    K: Send + Sync + Hash + Eq + Clone + 'static,
    super::loaders::GraphLoader: Loader<K, Error = std::sync::Arc<crate::service::ServiceError>>,
{
    let loader = loader(ctx)?;
    Box::pin(loader.load_one(key)).await.map_err(|e| e.extend())
}

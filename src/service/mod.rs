//! The follow-graph rules, the only place they live. GraphQL and the legacy REST shim both call
//! these functions, so a rule is written once and holds for every client.

mod error;
mod read;
mod rules;
mod write;

pub use error::ServiceError;
pub use rules::Action;

use crate::db::Store;

/// The follow graph's operations over a store. Cheap to clone: it holds only pool handles.
#[derive(Clone, Debug)]
pub struct Service {
    store: Store,
}

impl Service {
    pub fn new(store: Store) -> Self {
        Self { store }
    }

    /// The store underneath, for readiness checks and shutdown.
    pub fn store(&self) -> &Store {
        &self.store
    }
}

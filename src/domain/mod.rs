//! The follow graph's vocabulary: identifiers, relations and users. No I/O lives here, so every
//! layer above can share these types and they can be tested on their own.

pub(crate) mod account;
pub(crate) mod event;
pub(crate) mod ids;
pub(crate) mod page;
pub(crate) mod relation;
pub(crate) mod user;

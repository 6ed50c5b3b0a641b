//! The follow graph's vocabulary: identifiers, relations and users. No I/O lives here, so every
//! layer above can share these types and they can be tested on their own.

pub mod ids;
pub mod page;
pub mod relation;
pub mod user;

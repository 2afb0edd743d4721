//! The node's full-text search: a tantivy index of statuses (local and cached remote ones) and
//! accounts, kept as a projection of the event log.
//!
//! Like every read model, the index is derived from the log alone and can be dropped and rebuilt
//! (`peerpx replay search`) with the same result. Its checkpoint, the last log position applied,
//! is stored in the payload of each tantivy commit, so documents and checkpoint are always
//! committed together; the data the projection needs from other aggregates (an upload's EXIF,
//! an author's name) is stored in the index too (see
//! `docs/decisions/0004-search-index-projection.md`).
//!
//! - [`SearchIndex`] (`index`, `follow`, `writer`, `fold`): opening (a missing or untrustworthy
//!   index is built again from the log), the one writer, the follow loop, `rebuild`.
//! - [`SearchReader`] and [`Snapshot`] (`search`, `build`, `facets`): ranked candidates for the
//!   API, which still filters them through `statuses::visible`; accounts; facet counts.
//! - [`query::parse`]: the query language to a typed query, with errors a person understands.
//!
//! Depends on `peerpx-aggregates` (the events) and `peerpx-projections` (reading the log); never
//! on the API. Never calls the network and never reads the clock in what it indexes.

mod build;
mod documents;
mod error;
mod facets;
mod fold;
mod follow;
mod index;
pub mod query;
pub mod schema;
mod search;
pub mod sources;
mod writer;

pub use build::{IdRange, Scope};
pub use error::{Error, Result};
pub use facets::{FacetCount, Facets};
pub use follow::{Progress, COMMIT_EVERY};
pub use index::{Opened, SearchIndex};
pub use query::{parse, QueryError, StatusQuery};
pub use search::{SearchReader, Snapshot, Window};
pub use writer::{open_writer, WRITER_HEAP_BYTES, WRITER_THREADS};

#[cfg(test)]
mod tests;

//! peerpx-storage: content-addressed photo storage that speaks IPFS, and the blob store.
//!
//! Depends on no peerpx crate: it stores and serves bytes by their hash, and never decides which
//! of them are live (the node tells [`gc::collect`]). It does no ActivityPub and knows no account.
//!
//! Every stored file is cut into blocks and named by a CID (a hash of its content), computed
//! exactly as `ipfs add --cid-version=1` computes it with kubo's defaults: 256 KiB raw leaves
//! under a balanced dag-pb UnixFS tree of at most 174 links per node. So a photo has the same CID
//! on this node, on any other peerpx node and on any IPFS node: a CID published in an
//! ActivityPub object can be fetched from, and checked against, any of them, and two nodes
//! storing the same photo store the same blocks.
//!
//! - [`unixfs`]: the streaming DAG builder (`ipfs add`) and the dag-pb/UnixFS codecs.
//! - [`store`]: [`BlockStore`], one durably written file per block under the data directory, and
//!   reading a file (or a byte range of it) back by walking its DAG.
//! - [`car`] and [`gateway`]: `GET /ipfs/{cid}`, which serves the file itself to browsers, and
//!   single blocks or CAR streams to IPFS clients that verify what they get instead of trusting
//!   this node (the "trustless gateway" of the IPFS HTTP gateway specs). The node mounts
//!   [`gateway::routes`]; decision 0006 says why the handlers live here rather than in `api`.
//! - [`gc`]: removing blocks no live file reaches, with the lock uploads hold.
//! - [`blobs`]: [`BlobStore`], hash-named profile images under `blobs/sha256/`.
//!
//! For an upload: `store.import(reader).await` (or `store.importer()` for bytes that arrive in
//! pieces) returns the root [`Cid`] and the size once every block is on disk.

pub mod blobs;
pub mod car;
pub mod cid;
pub mod gateway;
pub mod gc;
pub mod store;
pub mod unixfs;

pub use blobs::BlobStore;
pub use cid::{Cid, CidError};
pub use store::{AsyncImporter, BlockStore, FileReader};
pub use unixfs::{cid_of, import_reader, Imported, CHUNK_SIZE, MAX_LINKS};

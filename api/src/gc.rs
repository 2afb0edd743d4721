//! `peerpx gc` for this node: which photo files are live is the media read model's answer, and
//! the block store (`peerpx_storage::gc`) removes the rest under its lock.
//!
//! Everything of `peerpx_storage::gc` is re-exported, so callers need one module.

use std::path::Path;
use std::time::Duration;

use peerpx_projections::{media, Db, Projector};
pub use peerpx_storage::gc::*;

/// Brings the read models up to date, then removes every block of `blocks_dir` that no media
/// reaches and that is older than `grace`. Waits for uploads in flight; uploads that start in
/// the meantime wait for it.
pub async fn collect(
    projector: &Projector,
    db: &Db,
    blocks_dir: &Path,
    grace: Duration,
) -> Result<GcReport, GcError> {
    peerpx_storage::gc::collect(blocks_dir, grace, || async {
        projector.catch_up().await?;
        media::live_cids(db).await
    })
    .await
}

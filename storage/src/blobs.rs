//! The blob store: small files named by the SHA-256 of their bytes (profile images), one file
//! each under `<data-dir>/blobs/sha256/`, written durably.
//!
//! Photos do not live here: they are IPFS files in the [`crate::BlockStore`]. Profile images are
//! small, replaced rather than shared, and served as whole files at `/system/media/{hash}.{ext}`,
//! so a plain hash-named file is all they need.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

#[derive(Debug, Clone)]
pub struct BlobStore {
    root: PathBuf,
}

fn extension(content_type: &str) -> &'static str {
    match content_type {
        "image/png" => "png",
        _ => "jpg",
    }
}

/// The public URL of a blob: `{base_url}/system/media/{hash}.{ext}`.
pub fn url(base_url: &str, hash: &str, content_type: &str) -> String {
    format!("{base_url}/system/media/{hash}.{}", extension(content_type))
}

impl BlobStore {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn path(&self, hash: &str) -> PathBuf {
        self.root.join("sha256").join(&hash[..2]).join(hash)
    }

    /// Stores `bytes` durably (blocking: call from `spawn_blocking`) and returns their hash, the
    /// blob's name. Storing the same bytes twice keeps one file.
    pub fn put(&self, bytes: &[u8]) -> std::io::Result<String> {
        let hash = hex::encode(Sha256::digest(bytes));
        write_durably(&self.path(&hash), bytes)?;
        Ok(hash)
    }

    /// The blob named `hash` (64 lower-case hex digits), if stored.
    pub async fn read(&self, hash: &str) -> Option<Vec<u8>> {
        if hash.len() != 64 || !hash.bytes().all(|b| b.is_ascii_hexdigit()) {
            return None;
        }
        tokio::fs::read(self.path(hash)).await.ok()
    }
}

/// Writes to a temporary file, syncs it, renames it into place and syncs the directory.
pub fn write_durably(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if path.exists() {
        return Ok(());
    }
    let dir = path
        .parent()
        .ok_or_else(|| std::io::Error::other("blob path has no parent"))?;
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".tmp-{}", rand::random::<u64>()));
    {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
    }
    std::fs::rename(&tmp, path)?;
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_blob_is_read_back_by_its_hash_and_stored_once() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::new(dir.path().to_path_buf());
        let hash = store.put(b"avatar bytes").unwrap();
        assert_eq!(hash, hex::encode(Sha256::digest(b"avatar bytes")));
        assert_eq!(store.put(b"avatar bytes").unwrap(), hash);
        assert_eq!(store.read(&hash).await.unwrap(), b"avatar bytes");
        assert_eq!(store.read("../../etc/passwd").await, None);
        assert_eq!(
            url("https://photos.example", &hash, "image/png"),
            format!("https://photos.example/system/media/{hash}.png")
        );
    }
}

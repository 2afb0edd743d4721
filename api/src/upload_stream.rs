//! Receiving an upload: the multipart body streamed to a scratch directory under
//! `data_dir/tmp` chunk by chunk, refused (413) as soon as it passes the limit, with the small
//! text fields beside the file read within a budget. The scratch directory goes when dropped, so
//! a refused upload leaves no file behind.

use std::path::{Path, PathBuf};

use axum::extract::multipart::{Field, MultipartError};
use axum::extract::Multipart;
use tokio::io::AsyncWriteExt;

use crate::error::{ApiError, ApiResult};

/// All the parts of an upload but the file, together (alt text is at most 1500 characters).
const OTHER_PARTS_MAX: usize = 256 * 1024;

/// How much more of a refused body is read (and thrown away) so that the client, still
/// sending, reads the 413 instead of a reset connection.
const DRAIN_MAX: u64 = 16 * 1024 * 1024;

const DRAIN_TIME: std::time::Duration = std::time::Duration::from_secs(5);

/// A directory under `data_dir/tmp` for one upload: the streamed file and the pipeline's
/// output. Removed when dropped, however the upload ended.
pub(crate) struct Scratch {
    dir: PathBuf,
}

impl Scratch {
    pub(crate) fn create(data_dir: &Path) -> ApiResult<Self> {
        let dir = data_dir
            .join("tmp")
            .join(format!("upload-{:016x}", rand::random::<u64>()));
        std::fs::create_dir_all(&dir).map_err(ApiError::internal)?;
        Ok(Self { dir })
    }

    pub(crate) fn input(&self) -> PathBuf {
        self.dir.join("upload")
    }

    pub(crate) fn output(&self) -> PathBuf {
        self.dir.join("out")
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Err(e) = std::fs::remove_dir_all(&self.dir) {
            tracing::warn!(dir = %self.dir.display(), error = %e, "cannot remove upload scratch");
        }
    }
}

/// The upload's parameters; the file itself is at `Scratch::input` when `file` is true.
#[derive(Default)]
pub(crate) struct Received {
    pub(crate) file: bool,
    pub(crate) description: Option<String>,
    pub(crate) focus: Option<String>,
    pub(crate) keep_location: Option<String>,
}

/// `n` bytes in words: megabytes when it is a whole number of them (as `--max-upload-mb` sets it).
fn size_text(n: u64) -> String {
    const MB: u64 = 1024 * 1024;
    if n >= MB && n.is_multiple_of(MB) {
        format!("{} MB", n / MB)
    } else {
        format!("{n} bytes")
    }
}

fn too_large(max: u64) -> ApiError {
    ApiError::PayloadTooLarge(format!(
        "File is too large: at most {} can be uploaded",
        size_text(max)
    ))
}

fn multipart_error(e: MultipartError) -> ApiError {
    ApiError::BadRequest(format!("Malformed multipart body: {}", e.body_text()))
}

/// Reads the multipart body: the `file` part to `scratch` chunk by chunk, at most `max` bytes,
/// and the text parameters.
pub(crate) async fn receive(
    multipart: &mut Multipart,
    scratch: &Scratch,
    max: u64,
) -> ApiResult<Received> {
    let mut received = Received::default();
    // Everything but the file (parameters, parts this route does not use) shares this budget.
    let mut others = OTHER_PARTS_MAX;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        let result = match name.as_str() {
            "file" if !received.file => {
                let written = write_file(&mut field, &scratch.input(), max).await;
                received.file = written.is_ok();
                written
            }
            "description" | "focus" | "keep_location" => {
                read_text(&mut field, &mut others).await.map(|text| {
                    let slot = match name.as_str() {
                        "description" => &mut received.description,
                        "focus" => &mut received.focus,
                        _ => &mut received.keep_location,
                    };
                    *slot = Some(text);
                })
            }
            // Anything else (Mastodon's `thumbnail` is for video and audio) is read and dropped.
            _ => read_bytes(&mut field, &mut others).await.map(drop),
        };
        if let Err(e) = result {
            // Read the rest (bounded) so that a client still sending sees the answer.
            let mut drain = Drain::new();
            if drain.field(&mut field).await {
                drop(field);
                drain.rest(multipart).await;
            }
            return Err(e);
        }
    }
    Ok(received)
}

async fn write_file(field: &mut Field<'_>, path: &Path, max: u64) -> ApiResult<()> {
    let file = tokio::fs::File::create(path)
        .await
        .map_err(ApiError::internal)?;
    let mut out = tokio::io::BufWriter::with_capacity(256 * 1024, file);
    let mut written = 0u64;
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        written += chunk.len() as u64;
        if written > max {
            return Err(too_large(max));
        }
        out.write_all(&chunk).await.map_err(ApiError::internal)?;
    }
    out.flush().await.map_err(ApiError::internal)?;
    Ok(())
}

/// A part other than the file, in memory, taken from the shared `budget`.
async fn read_bytes(field: &mut Field<'_>, budget: &mut usize) -> ApiResult<Vec<u8>> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
        *budget = budget.checked_sub(chunk.len()).ok_or_else(|| {
            ApiError::PayloadTooLarge("The upload's other parameters are too large".into())
        })?;
        bytes.extend_from_slice(&chunk);
    }
    Ok(bytes)
}

async fn read_text(field: &mut Field<'_>, budget: &mut usize) -> ApiResult<String> {
    let name = field.name().unwrap_or_default().to_string();
    let bytes = read_bytes(field, budget).await?;
    String::from_utf8(bytes).map_err(|_| ApiError::field(&name, "ERR_INVALID", "is not UTF-8"))
}

/// Reads and discards the rest of a refused body (the field being read, then the others), for
/// a bounded time and size.
struct Drain {
    deadline: tokio::time::Instant,
    seen: u64,
}

impl Drain {
    fn new() -> Self {
        Self {
            deadline: tokio::time::Instant::now() + DRAIN_TIME,
            seen: 0,
        }
    }

    /// `true` when the field was read to its end within the bounds.
    async fn field(&mut self, field: &mut Field<'_>) -> bool {
        loop {
            match tokio::time::timeout_at(self.deadline, field.chunk()).await {
                Ok(Ok(Some(chunk))) => {
                    self.seen += chunk.len() as u64;
                    if self.seen > DRAIN_MAX {
                        return false;
                    }
                }
                Ok(Ok(None)) => return true,
                _ => return false,
            }
        }
    }

    async fn rest(&mut self, multipart: &mut Multipart) {
        while let Ok(Ok(Some(mut next))) =
            tokio::time::timeout_at(self.deadline, multipart.next_field()).await
        {
            if !self.field(&mut next).await {
                return;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn sizes_are_said_in_the_unit_of_the_setting() {
        assert_eq!(size_text(40 * 1024 * 1024), "40 MB");
        assert_eq!(size_text(200_000), "200000 bytes");
        assert_eq!(
            too_large(40 * 1024 * 1024).to_string(),
            "File is too large: at most 40 MB can be uploaded"
        );
    }
}

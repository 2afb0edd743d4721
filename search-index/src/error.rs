//! The crate's errors.

use std::path::PathBuf;

use crate::query::QueryError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("search index: {0}")]
    Tantivy(#[from] tantivy::TantivyError),
    #[error("search index files: {0}")]
    Io(#[from] std::io::Error),
    #[error("a stored search document cannot be read: {0}")]
    BadSource(String),
    #[error("the event log cannot be read: {0}")]
    Log(#[from] peerpx_projections::Error),
    #[error("the event log cannot be read: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("the search index in {0} is in use by another process")]
    Locked(PathBuf),
    #[error("{0} is not a search index file; the directory is not wiped")]
    ForeignFile(PathBuf),
    #[error("the search index writer stopped: {0}")]
    WriterGone(String),
    #[error(transparent)]
    Query(#[from] QueryError),
}

impl Error {
    /// A stable, machine-readable name for the error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Tantivy(_) => "index",
            Self::Io(_) => "io",
            Self::BadSource(_) => "bad_source",
            Self::Log(_) | Self::Sql(_) => "log",
            Self::Locked(_) => "locked",
            Self::ForeignFile(_) => "foreign_file",
            Self::WriterGone(_) => "writer_gone",
            Self::Query(q) => q.code(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

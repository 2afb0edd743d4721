//! One connection pool for whichever engine the database URL names.
//!
//! peerpx runs the same SQL on SQLite, PostgreSQL and MySQL through sqlx's `Any` driver. Queries
//! are written with `?` placeholders; [`Db::sql`] rewrites them to `$1, $2, …` for PostgreSQL.
//! Every column is BIGINT or TEXT, the two types all three engines and `Any` agree on.

use std::borrow::Cow;
use std::path::Path;
use std::time::Duration;

use sqlx::any::{AnyConnectOptions, AnyPoolOptions};
use sqlx::{AnyPool, ConnectOptions, Executor};

use crate::{Error, Result};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
    MySql,
}

impl Backend {
    pub fn from_url(url: &str) -> Result<Self> {
        match url.split(':').next().unwrap_or_default() {
            "sqlite" => Ok(Self::Sqlite),
            "postgres" | "postgresql" => Ok(Self::Postgres),
            "mysql" | "mariadb" => Ok(Self::MySql),
            _ => Err(Error::Config(format!(
                "unsupported database URL {}: use sqlite://, postgres:// or mysql://",
                redact_url(url)
            ))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::Sqlite => "sqlite",
            Self::Postgres => "postgres",
            Self::MySql => "mysql",
        }
    }
}

/// The database URL with any password replaced by `***`, for messages and logs.
pub fn redact_url(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_string(),
    }
}

/// The default database: an SQLite file inside the data directory.
pub fn default_sqlite_url(data_dir: &Path) -> String {
    format!("sqlite://{}?mode=rwc", data_dir.join("peerpx.db").display())
}

#[derive(Clone, Debug)]
pub struct Db {
    pub pool: AnyPool,
    pub backend: Backend,
}

impl Db {
    /// Connects, failing with one clear error (URL without password) when the database is
    /// unreachable.
    pub async fn connect(url: &str) -> Result<Self> {
        sqlx::any::install_default_drivers();
        let backend = Backend::from_url(url)?;
        let unreachable = |e: sqlx::Error| Error::Unreachable {
            url: redact_url(url),
            reason: e.to_string(),
        };
        let options: AnyConnectOptions = url
            .parse::<AnyConnectOptions>()
            .map_err(unreachable)?
            .log_statements(tracing::log::LevelFilter::Trace)
            .log_slow_statements(tracing::log::LevelFilter::Warn, Duration::from_secs(2));
        // One direct attempt first, so an unreachable server fails at once rather than after
        // the pool's retries.
        let probe = tokio::time::timeout(Duration::from_secs(10), options.connect()).await;
        match probe {
            Ok(Ok(conn)) => {
                let _ = sqlx::Connection::close(conn).await;
            }
            Ok(Err(e)) => return Err(unreachable(e)),
            Err(_) => return Err(unreachable(sqlx::Error::PoolTimedOut)),
        }
        let pool_options = AnyPoolOptions::new()
            .max_connections(if backend == Backend::Sqlite { 8 } else { 16 })
            // Longer than SQLite's busy timeout: a connection may be held that long by a writer
            // waiting for the lock, and the callers queued behind it should wait, not fail.
            .acquire_timeout(Duration::from_secs(30));
        let pool_options = if backend == Backend::Sqlite {
            pool_options.after_connect(|conn, _meta| {
                Box::pin(async move {
                    // WAL lets readers run beside the one writer; FULL makes every commit
                    // durable before it is acknowledged; writers wait for the lock instead of
                    // failing at once.
                    conn.execute("PRAGMA journal_mode = WAL").await?;
                    conn.execute("PRAGMA synchronous = FULL").await?;
                    conn.execute("PRAGMA busy_timeout = 15000").await?;
                    Ok(())
                })
            })
        } else {
            pool_options
        };
        let pool = pool_options
            .connect_with(options)
            .await
            .map_err(unreachable)?;
        Ok(Self { pool, backend })
    }

    /// Rewrites `?` placeholders for the engine. SQL given here never has `?` inside literals.
    pub fn sql<'a>(&self, query: &'a str) -> Cow<'a, str> {
        sql_for(self.backend, query)
    }

    pub async fn close(&self) {
        self.pool.close().await;
    }
}

pub fn sql_for(backend: Backend, query: &str) -> Cow<'_, str> {
    if backend != Backend::Postgres || !query.contains('?') {
        return Cow::Borrowed(query);
    }
    let mut out = String::with_capacity(query.len() + 16);
    let mut n = 0;
    for c in query.chars() {
        if c == '?' {
            n += 1;
            out.push('$');
            out.push_str(&n.to_string());
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

/// `true` when the error is a unique-key violation (a duplicate row).
pub fn is_unique_violation(error: &sqlx::Error) -> bool {
    match error {
        sqlx::Error::Database(e) => {
            e.is_unique_violation()
                || e.code()
                    .is_some_and(|c| c == "23000" || c == "23505" || c == "2067" || c == "1555")
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_are_numbered_for_postgres_only() {
        let q = "SELECT a FROM t WHERE b = ? AND c = ?";
        assert_eq!(
            sql_for(Backend::Postgres, q),
            "SELECT a FROM t WHERE b = $1 AND c = $2"
        );
        assert_eq!(sql_for(Backend::Sqlite, q), q);
        assert_eq!(sql_for(Backend::MySql, q), q);
    }

    #[test]
    fn passwords_never_appear_in_redacted_urls() {
        let shown = redact_url("postgres://peer:secret@db.example:5432/px");
        assert!(!shown.contains("secret"), "{shown}");
        assert!(shown.contains("db.example:5432/px"));
    }
}

/// Reading text columns on every engine. Through `Any`, MySQL reports TEXT columns as BLOBs, so
/// text is read as a string where the driver allows it and as UTF-8 bytes otherwise.
pub trait TextRow {
    fn text(&self, column: &str) -> Result<String, sqlx::Error>;
    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error>;
}

impl TextRow for sqlx::any::AnyRow {
    fn text(&self, column: &str) -> Result<String, sqlx::Error> {
        self.opt_text(column)?
            .ok_or_else(|| sqlx::Error::ColumnDecode {
                index: column.to_string(),
                source: "unexpected NULL".into(),
            })
    }

    fn opt_text(&self, column: &str) -> Result<Option<String>, sqlx::Error> {
        use sqlx::Row;
        match self.try_get::<Option<String>, _>(column) {
            Ok(v) => Ok(v),
            Err(_) => self
                .try_get::<Option<Vec<u8>>, _>(column)?
                .map(String::from_utf8)
                .transpose()
                .map_err(|e| sqlx::Error::ColumnDecode {
                    index: column.to_string(),
                    source: Box::new(e),
                }),
        }
    }
}

/// A query parameter of one of the two column types read models use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Arg {
    Int(i64),
    Text(String),
}

impl From<i64> for Arg {
    fn from(v: i64) -> Self {
        Self::Int(v)
    }
}

impl From<&str> for Arg {
    fn from(v: &str) -> Self {
        Self::Text(v.to_string())
    }
}

impl From<String> for Arg {
    fn from(v: String) -> Self {
        Self::Text(v)
    }
}

/// Binds `args` in order to a query built at run time.
pub fn bind_all<'q>(
    mut query: sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>>,
    args: &[Arg],
) -> sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments<'q>> {
    for arg in args {
        query = match arg {
            Arg::Int(v) => query.bind(*v),
            Arg::Text(v) => query.bind(v.clone()),
        };
    }
    query
}

/// `?, ?, ?` for `n` parameters (an `IN (…)` list; `n` must be at least 1).
pub fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

//! Applies the SQL files in `migrations/<engine>/` in order, once each.
//!
//! A small migrator of our own rather than `sqlx::migrate!`: it runs unchanged through the `Any`
//! driver on all three engines and its bookkeeping table is plain.

use sqlx::Row;

use crate::db::{Backend, Db};
use crate::{now_millis, Error, Result};

struct Migration {
    version: i64,
    name: &'static str,
    sql: &'static str,
}

macro_rules! migrations {
    ($engine:literal) => {
        &[
            Migration {
                version: 1,
                name: "event_log",
                sql: include_str!(concat!("../../migrations/", $engine, "/0001_event_log.sql")),
            },
            Migration {
                version: 2,
                name: "accounts",
                sql: include_str!(concat!("../../migrations/", $engine, "/0002_accounts.sql")),
            },
            Migration {
                version: 3,
                name: "credentials",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $engine,
                    "/0003_credentials.sql"
                )),
            },
            Migration {
                version: 4,
                name: "photos",
                sql: include_str!(concat!("../../migrations/", $engine, "/0004_photos.sql")),
            },
            Migration {
                version: 5,
                name: "actor_keys",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $engine,
                    "/0005_actor_keys.sql"
                )),
            },
            Migration {
                version: 6,
                name: "status_counts_index",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $engine,
                    "/0006_status_counts_index.sql"
                )),
            },
            Migration {
                version: 7,
                name: "remote_accounts",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $engine,
                    "/0007_remote_accounts.sql"
                )),
            },
            Migration {
                version: 8,
                name: "deliveries",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $engine,
                    "/0008_deliveries.sql"
                )),
            },
            Migration {
                version: 9,
                name: "remote_statuses",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $engine,
                    "/0009_remote_statuses.sql"
                )),
            },
            Migration {
                version: 10,
                name: "domain_blocks",
                sql: include_str!(concat!(
                    "../../migrations/",
                    $engine,
                    "/0010_domain_blocks.sql"
                )),
            },
            Migration {
                version: 11,
                name: "reblogs",
                sql: include_str!(concat!("../../migrations/", $engine, "/0011_reblogs.sql")),
            },
            Migration {
                version: 12,
                name: "search",
                sql: include_str!(concat!("../../migrations/", $engine, "/0012_search.sql")),
            },
            Migration {
                version: 13,
                name: "read_path",
                sql: include_str!(concat!("../../migrations/", $engine, "/0013_read_path.sql")),
            },
        ]
    };
}

const SQLITE: &[Migration] = migrations!("sqlite");
const POSTGRES: &[Migration] = migrations!("postgres");
const MYSQL: &[Migration] = migrations!("mysql");

/// Splits a file into statements at semicolons that end a line; comment lines are dropped.
fn statements(sql: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut current = String::new();
    for line in sql.lines() {
        if line.trim_start().starts_with("--") {
            continue;
        }
        current.push_str(line);
        current.push('\n');
        if line.trim_end().ends_with(';') {
            out.push(current.trim().trim_end_matches(';').to_string());
            current.clear();
        }
    }
    if !current.trim().is_empty() {
        out.push(current.trim().to_string());
    }
    out
}

/// Brings the schema up to date; returns the versions it applied.
pub async fn run(db: &Db) -> Result<Vec<i64>> {
    let list = match db.backend {
        Backend::Sqlite => SQLITE,
        Backend::Postgres => POSTGRES,
        Backend::MySql => MYSQL,
    };
    let create = match db.backend {
        Backend::MySql => {
            "CREATE TABLE IF NOT EXISTS peerpx_migrations (version BIGINT NOT NULL PRIMARY KEY, \
             name VARCHAR(255) NOT NULL, applied_at BIGINT NOT NULL)"
        }
        _ => {
            "CREATE TABLE IF NOT EXISTS peerpx_migrations (version BIGINT NOT NULL PRIMARY KEY, \
             name TEXT NOT NULL, applied_at BIGINT NOT NULL)"
        }
    };
    sqlx::query(create).execute(&db.pool).await?;
    let rows = sqlx::query("SELECT version FROM peerpx_migrations")
        .fetch_all(&db.pool)
        .await?;
    let done: Vec<i64> = rows
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    let mut applied = Vec::new();
    for m in list.iter().filter(|m| !done.contains(&m.version)) {
        let mut tx = db.pool.begin().await?;
        for statement in statements(m.sql) {
            sqlx::query(&statement)
                .execute(&mut *tx)
                .await
                .map_err(|e| {
                    Error::Migration(format!("migration {} ({}) failed: {e}", m.version, m.name))
                })?;
        }
        sqlx::query(
            &db.sql("INSERT INTO peerpx_migrations (version, name, applied_at) VALUES (?, ?, ?)"),
        )
        .bind(m.version)
        .bind(m.name)
        .bind(now_millis())
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::info!(version = m.version, name = m.name, "migration applied");
        applied.push(m.version);
    }
    Ok(applied)
}

#[cfg(test)]
mod tests {
    use super::statements;

    #[test]
    fn files_split_into_statements_without_comments() {
        let sql = "-- a table\nCREATE TABLE a (x BIGINT);\nINSERT INTO a (x)\n VALUES (1);\n";
        assert_eq!(
            statements(sql),
            vec![
                "CREATE TABLE a (x BIGINT)",
                "INSERT INTO a (x)\n VALUES (1)"
            ]
        );
    }
}

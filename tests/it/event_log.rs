//! The log's guarantees on every engine: a total order with no gaps under concurrent writers,
//! every event seen once by a live projection, and old event shapes upcast when read.

use std::sync::Arc;
use std::time::Duration;

use cqrs_es::persist::SerializedEvent;
use peerpx_aggregates::account::Registration;
use peerpx_aggregates::{AccountCommand, InstanceCommand, ProfileChanges, RegistrationsMode, Role};
use peerpx_projections::accounts::AccountsProjection;
use peerpx_projections::db::TextRow;
use peerpx_projections::log::metadata;
use peerpx_projections::{
    instance, migrate, Commands, Db, EventLog, Projection, Projector, Recorded, Tx,
};
use serde_json::json;
use sqlx::Row;
use tokio::sync::watch;

use crate::harness::{eventually, Engine, TestDb};
use crate::on_every_engine;

on_every_engine!(
    racing_registrations_of_one_name_commit_once_and_leave_no_gap,
    a_live_projection_sees_every_concurrently_appended_event_exactly_once,
    an_old_event_shape_is_upcast_for_projections_and_aggregates,
);

/// Records each position it is given; the primary key turns a second delivery into an error.
struct Seen;

#[async_trait::async_trait]
impl Projection for Seen {
    fn name(&self) -> &'static str {
        "test_seen"
    }
    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("test_seen", "position")]
    }
    async fn reset(&self, tx: &mut Tx<'_>) -> peerpx_projections::Result<()> {
        sqlx::query("DELETE FROM test_seen")
            .execute(&mut *tx.conn)
            .await?;
        Ok(())
    }
    async fn apply(&self, tx: &mut Tx<'_>, e: &Recorded) -> peerpx_projections::Result<()> {
        sqlx::query(&tx.sql("INSERT INTO test_seen (position) VALUES (?)"))
            .bind(e.position)
            .execute(&mut *tx.conn)
            .await?;
        Ok(())
    }
}

async fn open(engine: Engine) -> Option<(TestDb, tempfile::TempDir, Db)> {
    let test_db = TestDb::create(engine).await?;
    let dir = tempfile::tempdir().expect("dir");
    let url = test_db
        .url
        .clone()
        .unwrap_or_else(|| peerpx_projections::db::default_sqlite_url(dir.path()));
    let db = Db::connect(&url).await.expect("connect");
    migrate::run(&db).await.expect("migrate");
    Some((test_db, dir, db))
}

fn registration(username: &str) -> Registration {
    Registration {
        id: peerpx_api::auth::new_id(),
        username: username.into(),
        email: format!("{username}@example.org"),
        password_hash: "not-a-real-hash".into(),
        locale: "en".into(),
        reason: None,
        role: Role::User,
        approved: true,
        at: 1,
        key: None,
    }
}

async fn a_live_projection_sees_every_concurrently_appended_event_exactly_once(engine: Engine) {
    let Some((_guard, _dir, db)) = open(engine).await else {
        return;
    };
    sqlx::query("CREATE TABLE test_seen (position BIGINT NOT NULL PRIMARY KEY)")
        .execute(&db.pool)
        .await
        .expect("table");
    let log = EventLog::new(db.clone());
    let projector = Arc::new(Projector::with(
        log.clone(),
        vec![Arc::new(AccountsProjection), Arc::new(Seen)],
    ));
    projector.init().await.expect("init");
    let (stop, stop_rx) = watch::channel(false);
    let followers = projector.spawn(stop_rx);
    let commands = Arc::new(Commands::new(log.clone()));

    const TASKS: usize = 16;
    const PER_TASK: usize = 30;
    let writers: Vec<_> = (0..TASKS)
        .map(|t| {
            let commands = Arc::clone(&commands);
            tokio::spawn(async move {
                for i in 0..PER_TASK {
                    let name = format!("user_{t}_{i}");
                    commands
                        .account(
                            &name,
                            AccountCommand::Register(registration(&name)),
                            metadata(None, "test"),
                        )
                        .await
                        .expect("register");
                    let changes = ProfileChanges {
                        display_name: Some(format!("User {t}.{i}")),
                        ..Default::default()
                    };
                    commands
                        .account(
                            &name,
                            AccountCommand::UpdateProfile { changes, at: 2 },
                            metadata(None, "test"),
                        )
                        .await
                        .expect("update");
                }
            })
        })
        .collect();
    for w in writers {
        w.await.expect("writer");
    }
    let total = i64::try_from(TASKS * PER_TASK * 2).expect("fits");
    let head = log.head().await.expect("head");
    assert_eq!(head, total, "every event got exactly one position");
    eventually(
        Duration::from_secs(120),
        "the projections to reach the head",
        || {
            let p = Arc::clone(&projector);
            async move { (p.checkpoint() == head).then_some(()) }
        },
    )
    .await;

    let row = sqlx::query("SELECT COUNT(*), MIN(position), MAX(position) FROM test_seen")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    let (count, min, max): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!(
        (count, min, max),
        (total, 1, total),
        "each position applied once, none skipped"
    );
    let row = sqlx::query("SELECT COUNT(*), MIN(position), MAX(position) FROM events")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    let (count, min, max): (i64, i64, i64) = (row.get(0), row.get(1), row.get(2));
    assert_eq!((count, min, max), (total, 1, total), "positions are dense");
    let accounts: i64 = sqlx::query("SELECT COUNT(*) FROM accounts WHERE display_name <> ''")
        .fetch_one(&db.pool)
        .await
        .expect("accounts")
        .get(0);
    assert_eq!(accounts, i64::try_from(TASKS * PER_TASK).expect("fits"));

    stop.send(true).expect("stop");
    for f in followers {
        f.await.expect("follower");
    }
    db.close().await;
}

async fn an_old_event_shape_is_upcast_for_projections_and_aggregates(engine: Engine) {
    let Some((_guard, _dir, db)) = open(engine).await else {
        return;
    };
    let log = EventLog::new(db.clone());
    // As an early build of peerpx stored it: version 1.0 with `open: true`.
    let v1 = SerializedEvent::new(
        "local".into(),
        1,
        "instance".into(),
        "RegistrationsModeChanged".into(),
        "1.0".into(),
        json!({"RegistrationsModeChanged": {"open": true, "at": 5}}),
        json!({}),
    );
    log.append(&[v1]).await.expect("append v1");
    let projector = Projector::new(log.clone());
    projector.init().await.expect("init");
    projector.catch_up().await.expect("catch up");
    assert_eq!(
        instance::get(&db).await.expect("instance").mode,
        RegistrationsMode::Open
    );

    // The aggregate reads the same history through the upcaster: "open" again is no change...
    let commands = Commands::new(log.clone());
    let set = |mode| InstanceCommand::SetRegistrationsMode { mode, at: 6 };
    let p = commands
        .instance(set(RegistrationsMode::Open), metadata(None, "test"))
        .await
        .expect("cmd");
    assert_eq!(p, 0, "the upcast state already says open");
    // ...while a real change is stored in the current shape.
    let p = commands
        .instance(set(RegistrationsMode::Closed), metadata(None, "test"))
        .await
        .expect("cmd");
    assert_eq!(p, 2);
    let row = sqlx::query("SELECT event_version, payload FROM events WHERE position = 2")
        .fetch_one(&db.pool)
        .await
        .expect("row");
    assert_eq!(row.get::<String, _>(0), "2.0");
    assert!(row
        .text("payload")
        .expect("payload")
        .contains("\"mode\":\"closed\""));
    projector.catch_up().await.expect("catch up");
    assert_eq!(
        instance::get(&db).await.expect("instance").mode,
        RegistrationsMode::Closed
    );
    db.close().await;
}

async fn racing_registrations_of_one_name_commit_once_and_leave_no_gap(engine: Engine) {
    let Some((_guard, _dir, db)) = open(engine).await else {
        return;
    };
    let log = EventLog::new(db.clone());
    let commands = Arc::new(Commands::new(log.clone()));
    // Twenty tasks race for one name while registering distinct names in the same commit groups,
    // so refused appends (rolled back to their savepoint) sit between accepted ones.
    let racers: Vec<_> = (0..20)
        .map(|i| {
            let commands = Arc::clone(&commands);
            tokio::spawn(async move {
                let other = format!("other_{i}");
                let own = commands
                    .account(
                        &other,
                        AccountCommand::Register(registration(&other)),
                        metadata(None, "test"),
                    )
                    .await;
                assert!(own.is_ok(), "a distinct name always commits: {own:?}");
                commands
                    .account(
                        "same",
                        AccountCommand::Register(registration("same")),
                        metadata(None, "test"),
                    )
                    .await
            })
        })
        .collect();
    let mut won = 0;
    for r in racers {
        match r.await.expect("task") {
            Ok(_) => won += 1,
            Err(cqrs_es::AggregateError::AggregateConflict)
            | Err(cqrs_es::AggregateError::UserError(
                peerpx_aggregates::AccountError::UsernameTaken,
            )) => {}
            Err(other) => panic!("unexpected error: {other}"),
        }
    }
    assert_eq!(won, 1, "exactly one registration of the name commits");
    let head = log.head().await.expect("head");
    let row = sqlx::query("SELECT COUNT(*), MAX(position) FROM events")
        .fetch_one(&db.pool)
        .await
        .expect("count");
    let (count, max): (i64, i64) = (row.get(0), row.get(1));
    assert_eq!(
        (count, max, head),
        (21, 21, 21),
        "positions are dense despite the refused appends"
    );
    db.close().await;
}

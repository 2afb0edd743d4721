//! Real directories and a real log (SQLite in a temporary directory).

use std::path::{Path, PathBuf};
use std::time::Duration;

use peerpx_projections::{db, migrate, Db, EventLog};

use super::*;
use crate::{Error, Opened};

async fn log_with(dir: &Path, story: &Story) -> crate::Result<EventLog> {
    let db = Db::connect(&db::default_sqlite_url(dir)).await?;
    migrate::run(&db).await?;
    let log = EventLog::new(db);
    append(&log, story, 0).await;
    Ok(log)
}

/// Appends the story's events after the first `from`.
async fn append(log: &EventLog, story: &Story, from: usize) {
    let events = story.serialized();
    if let Err(e) = log.append(&events[from..]).await {
        panic!("append failed: {e}");
    }
}

fn story() -> Story {
    let mut s = Story::default();
    s.account("alice", "1")
        .rename("alice", "Alice Dupont")
        .upload(
            "m1",
            "1",
            exif("FUJIFILM", "X100V", "", "2024-01-02T10:00:00"),
        )
        .photo_post("101", "1", "Harbour at dawn", &["m1"])
        .post("102", "1", "Harbour at night")
        .edit("102", "1", "Harbour by night, edited")
        .post("103", "1", "Gone soon")
        .delete("103", "1")
        .remote_account("bob", "pix.example", "2")
        .remote_post("104", "2", "pix.example", "Harbour in Lisbon", Vec::new())
        .rename("alice", "Alice Lefèvre");
    s
}

const QUERIES: &[&str] = &[
    "harbour",
    "lefevre",
    "camera:x100v",
    "edited",
    "gone",
    "from:bob@pix.example",
];

fn answers(index: &SearchIndex) -> crate::Result<Vec<Vec<u64>>> {
    QUERIES.iter().map(|q| ids(index, q)).collect()
}

fn expected() -> Vec<Vec<u64>> {
    // BM25 favours the shorter captions of 104 and 101 over 102's.
    vec![
        vec![104, 101, 102],
        vec![102, 101],
        vec![101],
        vec![102],
        vec![],
        vec![104],
    ]
}

/// Files of the index's segments with `extension`.
fn segment_files(dir: &Path, extension: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let path = e?.path();
        if path.extension().is_some_and(|x| x == extension) {
            out.push(path);
        }
    }
    Ok(out)
}

#[tokio::test]
async fn a_missing_directory_is_built_from_the_log() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let s = story();
    let log = log_with(tmp.path(), &s).await?;
    let index = SearchIndex::open(&tmp.path().join("search"))?;
    assert_eq!(index.opened(), &Opened::Created);
    assert_eq!(index.committed()?, 0);
    let progress = index.catch_up(&log).await?;
    assert_eq!(progress.position, s.events.len() as i64);
    assert_eq!(answers(&index)?, expected());
    Ok(())
}

#[tokio::test]
async fn a_crash_before_a_commit_resumes_from_the_last_commit() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("search");
    let s = story();
    let half = 5;
    {
        let mut index = SearchIndex::open(&dir)?;
        index.apply(&s.events[..half])?;
        index.commit()?;
        index.apply(&s.events[half..])?;
        assert_eq!(index.applied()?, s.events.len() as i64);
        // Dropped without a commit, as a crash would leave it.
    }
    let index = SearchIndex::open(&dir)?;
    assert_eq!(index.opened(), &Opened::Existing);
    assert_eq!(index.committed()?, half as i64);
    assert_eq!(ids(&index, "harbour")?, [101], "only what was committed");
    let log = log_with(tmp.path(), &s).await?;
    index.catch_up(&log).await?;
    assert_eq!(answers(&index)?, expected());
    Ok(())
}

/// Builds the story's index in `dir`, then closes it.
async fn built(tmp: &Path, dir: &Path, s: &Story) -> crate::Result<EventLog> {
    let log = log_with(tmp, s).await?;
    let index = SearchIndex::open(dir)?;
    index.catch_up(&log).await?;
    Ok(log)
}

async fn reopened_is_rebuilt(dir: &Path, log: &EventLog, because: &str) -> TestResult {
    let index = SearchIndex::open(dir)?;
    match index.opened() {
        Opened::Rebuilt(reason) => assert!(reason.contains(because), "{reason}"),
        other => panic!("opened as {other:?}"),
    }
    assert_eq!(index.committed()?, 0, "nothing of the old index is served");
    assert_eq!(ids(&index, "harbour")?, Vec::<u64>::new());
    index.catch_up(log).await?;
    assert_eq!(answers(&index)?, expected());
    Ok(())
}

#[tokio::test]
async fn a_segment_file_with_overwritten_bytes_is_detected_and_rebuilt() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("search");
    let log = built(tmp.path(), &dir, &story()).await?;
    for file in segment_files(&dir, "store")? {
        let mut bytes = std::fs::read(&file)?;
        let middle = bytes.len() / 2;
        let end = (middle + 8).min(bytes.len());
        for b in &mut bytes[middle..end] {
            *b = !*b;
        }
        std::fs::write(&file, bytes)?;
    }
    reopened_is_rebuilt(&dir, &log, "checksum").await
}

#[tokio::test]
async fn a_truncated_segment_file_is_detected_and_rebuilt() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("search");
    let log = built(tmp.path(), &dir, &story()).await?;
    for file in segment_files(&dir, "term")? {
        let len = std::fs::metadata(&file)?.len();
        std::fs::OpenOptions::new()
            .write(true)
            .open(&file)?
            .set_len(len / 2)?;
    }
    reopened_is_rebuilt(&dir, &log, "").await
}

#[tokio::test]
async fn an_unreadable_meta_file_is_detected_and_rebuilt() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("search");
    let log = built(tmp.path(), &dir, &story()).await?;
    std::fs::write(dir.join("meta.json"), b"{ not json")?;
    reopened_is_rebuilt(&dir, &log, "cannot be opened").await
}

#[tokio::test]
async fn an_index_of_another_schema_version_is_rebuilt() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("search");
    let log = built(tmp.path(), &dir, &story()).await?;
    {
        let index = tantivy::Index::open_in_dir(&dir)?;
        let mut writer: tantivy::IndexWriter = index.writer(15_000_000)?;
        let mut commit = writer.prepare_commit()?;
        commit.set_payload(r#"{"schema":999,"position":11}"#);
        commit.commit()?;
    }
    reopened_is_rebuilt(&dir, &log, "schema version 999").await
}

#[tokio::test]
async fn a_rebuild_gives_the_same_documents_and_hits() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let dir = tmp.path().join("search");
    let s = story();
    let log = log_with(tmp.path(), &s).await?;
    let mut index = SearchIndex::open(&dir)?;
    // Applied in small commits, so the rebuild's single pass is a different path to compare.
    for chunk in s.events.chunks(3) {
        index.apply(chunk)?;
        index.commit()?;
    }
    let before = index.reader().snapshot().export()?;
    assert_eq!(answers(&index)?, expected());
    let progress = index.rebuild(&log).await?;
    assert_eq!(progress.events, s.events.len() as u64);
    assert_eq!(index.reader().snapshot().export()?, before);
    assert_eq!(answers(&index)?, expected());
    Ok(())
}

#[tokio::test]
async fn the_follow_loop_makes_appended_events_searchable() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let s = story();
    let log = log_with(tmp.path(), &Story::default()).await?;
    let index = SearchIndex::open(&tmp.path().join("search"))?;
    let reader = index.reader();
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let follower = tokio::spawn(index.follow(log.clone(), stopped));
    append(&log, &s, 0).await;
    let head = log.head().await?;
    assert!(reader.wait_for(head, Duration::from_secs(10)).await);
    let snap = reader.snapshot();
    let q = parse("harbour")?;
    assert_eq!(
        snap.statuses(&q, Scope::All, &Window::first(10))?,
        [104, 101, 102]
    );
    let count = reader
        .run(move |snap| snap.count_statuses(&q, Scope::All))
        .await?;
    assert_eq!(count, 3);
    stop.send_replace(true);
    follower.await?;
    assert!(!reader.wait_for(head + 1, Duration::from_millis(50)).await);
    Ok(())
}

#[test]
fn a_directory_holding_other_files_is_never_wiped() -> TestResult {
    let tmp = tempfile::tempdir()?;
    std::fs::write(tmp.path().join("photos.db"), b"precious")?;
    match SearchIndex::open(tmp.path()) {
        Err(e @ Error::ForeignFile(_)) => assert_eq!(e.code(), "foreign_file"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened"),
    }
    assert_eq!(std::fs::read(tmp.path().join("photos.db"))?, b"precious");
    Ok(())
}

#[test]
fn a_second_writer_on_one_directory_is_refused() -> TestResult {
    let tmp = tempfile::tempdir()?;
    let _first = SearchIndex::open(tmp.path())?;
    match SearchIndex::open(tmp.path()) {
        Err(e @ Error::Locked(_)) => assert_eq!(e.code(), "locked"),
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened twice"),
    }
    Ok(())
}

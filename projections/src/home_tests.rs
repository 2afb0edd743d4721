//! Given/when/then over the statuses projection on SQLite: given events in the log, when one
//! more is appended, then a feed holds exactly these entries (`statuses::home_feed_ids`, what
//! the projection wrote, before any read-time filter), and the counters say these numbers.

use std::collections::HashMap;

use cqrs_es::persist::SerializedEvent;
use cqrs_es::DomainEvent as _;
use peerpx_aggregates::account::Registration;
use peerpx_aggregates::engagement::{Reblog, Target};
use peerpx_aggregates::relationship::Pair;
use peerpx_aggregates::status::{Content, Mention, Post};
use peerpx_aggregates::{
    AccountEvent, EngagementEvent, RelationshipEvent, Role, StatusEvent, Visibility,
};

use crate::{accounts, migrate, statuses, Db, EventLog, Page, Projector};

/// One event to append: (aggregate type, aggregate id, event type, payload).
struct Ev(&'static str, String, String, serde_json::Value);

fn registered(name: &str) -> Ev {
    let e = AccountEvent::AccountRegistered(Registration {
        id: name.into(),
        username: name.into(),
        email: format!("{name}@example.org"),
        password_hash: "h".into(),
        locale: "en".into(),
        reason: None,
        role: Role::User,
        approved: true,
        at: 1,
        key: None,
    });
    Ev("account", name.into(), e.event_type(), json(&e))
}

fn suspended(name: &str) -> Ev {
    let e = AccountEvent::AccountSuspended { at: 2 };
    Ev("account", name.into(), e.event_type(), json(&e))
}

fn json<T: serde::Serialize>(v: &T) -> serde_json::Value {
    serde_json::to_value(v).expect("event serializes")
}

fn pair_event(a: &str, t: &str, make: fn(Pair) -> RelationshipEvent) -> Ev {
    let e = make(Pair {
        account_id: a.into(),
        target_id: t.into(),
    });
    Ev("relationship", format!("{a}:{t}"), e.event_type(), json(&e))
}

fn follows(a: &str, t: &str) -> Ev {
    pair_event(a, t, |pair| RelationshipEvent::Followed { pair, at: 3 })
}
fn unfollows(a: &str, t: &str) -> Ev {
    pair_event(a, t, |pair| RelationshipEvent::Unfollowed { pair, at: 4 })
}
fn blocks(a: &str, t: &str) -> Ev {
    pair_event(a, t, |pair| RelationshipEvent::Blocked { pair, at: 4 })
}
fn unblocks(a: &str, t: &str) -> Ev {
    pair_event(a, t, |pair| RelationshipEvent::Unblocked { pair, at: 5 })
}
fn mutes(a: &str, t: &str) -> Ev {
    pair_event(a, t, |pair| RelationshipEvent::Muted {
        pair,
        notifications: true,
        at: 4,
    })
}
fn unmutes(a: &str, t: &str) -> Ev {
    pair_event(a, t, |pair| RelationshipEvent::Unmuted { pair, at: 5 })
}

fn posts_mentioning(author: &str, id: i64, visibility: Visibility, mentioned: &[&str]) -> Ev {
    let e = StatusEvent::StatusPosted(Post {
        id: id.to_string(),
        account_id: author.into(),
        visibility,
        in_reply_to: None,
        content: Content {
            text: format!("status {id}"),
            html: format!("<p>status {id}</p>"),
            licence: "all-rights-reserved".into(),
            mentions: mentioned
                .iter()
                .map(|m| Mention {
                    account_id: (*m).into(),
                    username: (*m).into(),
                })
                .collect(),
            ..Content::default()
        },
        at: id,
        remote: None,
    });
    Ev("status", id.to_string(), e.event_type(), json(&e))
}

fn posts(author: &str, id: i64, visibility: Visibility) -> Ev {
    posts_mentioning(author, id, visibility, &[])
}

fn deletes(author: &str, id: i64) -> Ev {
    let e = StatusEvent::StatusDeleted {
        account_id: author.into(),
        at: 9,
    };
    Ev("status", id.to_string(), e.event_type(), json(&e))
}

fn reblog_target(booster: &str, author: &str, of: i64) -> Target {
    Target {
        account_id: booster.into(),
        status_id: of.to_string(),
        status_account_id: author.into(),
    }
}

fn reblogs(booster: &str, author: &str, of: i64, id: i64) -> Ev {
    let e = EngagementEvent::Reblogged {
        target: reblog_target(booster, author, of),
        reblog: Reblog {
            id: id.to_string(),
            visibility: Visibility::Public,
            uri: None,
        },
        at: id,
    };
    Ev(
        "engagement",
        format!("{booster}:{of}"),
        e.event_type(),
        json(&e),
    )
}

struct World {
    db: Db,
    log: EventLog,
    projector: Projector,
    sequences: HashMap<(String, String), usize>,
    _dir: tempfile::TempDir,
}

impl World {
    async fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let db = Db::connect(&crate::db::default_sqlite_url(dir.path()))
            .await
            .expect("sqlite");
        migrate::run(&db).await.expect("migrations");
        let log = EventLog::new(db.clone());
        let projector = Projector::new(log.clone());
        projector.init().await.expect("checkpoints");
        Self {
            db,
            log,
            projector,
            sequences: HashMap::new(),
            _dir: dir,
        }
    }

    async fn given(&mut self, events: Vec<Ev>) -> &mut Self {
        let serialized: Vec<SerializedEvent> = events
            .into_iter()
            .map(|Ev(kind, id, event_type, payload)| {
                let n = self
                    .sequences
                    .entry((kind.to_string(), id.clone()))
                    .or_default();
                *n += 1;
                SerializedEvent::new(
                    id,
                    *n,
                    kind.to_string(),
                    event_type,
                    "1.0".into(),
                    payload,
                    serde_json::json!({}),
                )
            })
            .collect();
        self.log.append(&serialized).await.expect("append");
        self.projector.catch_up().await.expect("catch up");
        self
    }

    async fn when(&mut self, event: Ev) -> &mut Self {
        self.given(vec![event]).await
    }

    async fn then_feed(&mut self, owner: &str, expected: &[i64]) -> &mut Self {
        let ids = statuses::home_feed_ids(&self.db, owner)
            .await
            .expect("feed");
        assert_eq!(ids, expected, "feed of {owner}");
        self
    }

    /// The page the API serves, with the read-time filter.
    async fn then_page(&mut self, owner: &str, expected: &[i64]) -> &mut Self {
        let page = statuses::home(&self.db, owner, Page::first(40))
            .await
            .expect("home");
        let ids: Vec<i64> = page.iter().map(|s| s.id).collect();
        assert_eq!(ids, expected, "home page of {owner}");
        let reference = statuses::home_reference(&self.db, owner, Page::first(40))
            .await
            .expect("reference");
        let reference: Vec<i64> = reference.iter().map(|s| s.id).collect();
        assert_eq!(ids, reference, "home page of {owner} against the reference");
        self
    }

    async fn then_replay_gives_the_same_rows(&mut self) {
        let before = self.projector.snapshot().await.expect("snapshot");
        self.projector.replay(None).await.expect("replay");
        assert_eq!(self.projector.snapshot().await.expect("snapshot"), before);
    }
}

fn people() -> Vec<Ev> {
    ["ana", "ben", "cid"].into_iter().map(registered).collect()
}

#[tokio::test]
async fn a_post_reaches_its_author_and_followers_but_a_direct_one_only_those_it_mentions() {
    let mut w = World::new().await;
    w.given(people()).await;
    w.given(vec![follows("ana", "ben"), follows("cid", "ben")])
        .await;
    w.when(posts("ben", 10, Visibility::Public)).await;
    w.when(posts("ben", 11, Visibility::Private)).await;
    w.when(posts_mentioning("ben", 12, Visibility::Direct, &["cid"]))
        .await;
    w.then_feed("ben", &[12, 11, 10]).await;
    w.then_feed("ana", &[11, 10]).await;
    w.then_feed("cid", &[12, 11, 10]).await;
    w.then_page("ana", &[11, 10]).await;
    w.then_replay_gives_the_same_rows().await;
}

#[tokio::test]
async fn a_follow_merges_what_was_posted_before_and_an_unfollow_takes_it_out() {
    let mut w = World::new().await;
    w.given(people()).await;
    w.given(vec![
        posts("ben", 10, Visibility::Public),
        posts("ben", 11, Visibility::Unlisted),
        posts_mentioning("ben", 12, Visibility::Direct, &["cid"]),
    ])
    .await;
    w.when(follows("ana", "ben")).await;
    w.then_feed("ana", &[11, 10]).await;
    w.when(unfollows("ana", "ben")).await;
    w.then_feed("ana", &[]).await;
    w.then_page("ana", &[]).await;
}

#[tokio::test]
async fn mutes_and_blocks_take_out_statuses_and_reblogs_and_lifting_them_brings_them_back() {
    let mut w = World::new().await;
    w.given(people()).await;
    w.given(vec![
        follows("ana", "ben"),
        follows("ana", "cid"),
        posts("cid", 10, Visibility::Public),
        reblogs("ben", "cid", 10, 11),
        posts("ben", 12, Visibility::Public),
    ])
    .await;
    w.then_feed("ana", &[12, 11, 10]).await;
    w.when(mutes("ana", "cid")).await;
    w.then_feed("ana", &[12]).await;
    w.then_page("ana", &[12]).await;
    w.when(unmutes("ana", "cid")).await;
    w.then_feed("ana", &[12, 11, 10]).await;
    // A block by the other side hides the reblog of its status as well; it ends no follow by
    // itself (the aggregate appends that `Unfollowed`), yet the feed takes everything out.
    w.when(blocks("cid", "ana")).await;
    w.then_feed("ana", &[12]).await;
    w.then_page("ana", &[12]).await;
    w.when(unblocks("cid", "ana")).await;
    w.then_feed("ana", &[12, 11, 10]).await;
    w.then_page("ana", &[12, 11, 10]).await;
    w.then_replay_gives_the_same_rows().await;
}

#[tokio::test]
async fn a_deleted_status_leaves_every_feed_with_its_reblogs() {
    let mut w = World::new().await;
    w.given(people()).await;
    w.given(vec![
        follows("ana", "ben"),
        follows("ana", "cid"),
        follows("ben", "cid"),
        posts("cid", 10, Visibility::Public),
        reblogs("ben", "cid", 10, 11),
    ])
    .await;
    w.then_feed("ana", &[11, 10]).await;
    w.then_feed("ben", &[11, 10]).await;
    w.when(deletes("cid", 10)).await;
    w.then_feed("ana", &[]).await;
    w.then_feed("ben", &[]).await;
    w.then_feed("cid", &[]).await;
}

#[tokio::test]
async fn a_suspended_author_stays_in_the_feed_but_not_on_the_page() {
    let mut w = World::new().await;
    w.given(people()).await;
    w.given(vec![
        follows("ana", "ben"),
        posts("ben", 10, Visibility::Public),
    ])
    .await;
    w.when(suspended("ben")).await;
    w.then_feed("ana", &[10]).await;
    w.then_page("ana", &[]).await;
}

#[tokio::test]
async fn a_feed_past_its_bound_keeps_its_newest_entries() {
    let mut w = World::new().await;
    w.given(people()).await;
    w.given(vec![follows("ana", "ben")]).await;
    let total = super::TRIM_AT + 1;
    w.given(
        (1..=total)
            .map(|i| posts("ben", i, Visibility::Public))
            .collect(),
    )
    .await;
    let feed = statuses::home_feed_ids(&w.db, "ana").await.expect("feed");
    let expected: Vec<i64> = (total - super::KEEP + 1..=total).rev().collect();
    assert_eq!(feed, expected);
    w.then_replay_gives_the_same_rows().await;
}

#[tokio::test]
async fn counters_follow_posts_reblogs_follows_and_deletes() {
    let mut w = World::new().await;
    w.given(people()).await;
    w.given(vec![
        follows("ana", "ben"),
        follows("cid", "ben"),
        posts("ben", 10, Visibility::Public),
        posts("ben", 11, Visibility::Direct),
        reblogs("ana", "ben", 10, 12),
        reblogs("cid", "ben", 10, 13),
    ])
    .await;
    let ben = accounts::by_id(&w.db, "ben")
        .await
        .expect("read")
        .expect("ben");
    assert_eq!(
        (
            ben.stats.followers_count,
            ben.stats.statuses_count,
            ben.stats.last_status_at
        ),
        (2, 1, Some(10))
    );
    let reblogged = crate::reblogs::counts(&w.db, &[10]).await.expect("counts");
    assert_eq!(reblogged.get(&10), Some(&2));
    w.when(suspended("cid")).await;
    let reblogged = crate::reblogs::counts(&w.db, &[10]).await.expect("counts");
    assert_eq!(reblogged.get(&10), Some(&1));
    w.when(deletes("ben", 10)).await;
    let ana = accounts::by_id(&w.db, "ana")
        .await
        .expect("read")
        .expect("ana");
    let ben = accounts::by_id(&w.db, "ben")
        .await
        .expect("read")
        .expect("ben");
    assert_eq!(
        (ana.stats.statuses_count, ana.stats.following_count),
        (0, 1)
    );
    assert_eq!(
        (ben.stats.statuses_count, ben.stats.last_status_at),
        (0, None)
    );
    w.then_replay_gives_the_same_rows().await;
}

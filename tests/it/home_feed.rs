//! The home feed read model against the query it replaced, on every engine: random histories of
//! follows, unfollows, posts of every visibility, deletes, blocks, mutes, reblogs and suspensions
//! among a few accounts, run through the aggregates, give the same home pages from
//! `statuses::home` (the feed) as from `statuses::home_reference` (the old query) on the same
//! data; the feed rows themselves hold exactly the reference's statuses plus those of suspended
//! authors (left out at read time); and a replay rebuilds the feeds identically.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicU64, Ordering};

use peerpx_aggregates::account::Registration;
use peerpx_aggregates::engagement::{Reblog, Target};
use peerpx_aggregates::status::{Content, Mention, Post};
use peerpx_aggregates::{
    AccountCommand, EngagementCommand, RelationshipCommand, Role, StatusCommand, Visibility,
};
use peerpx_api::AppState;
use peerpx_projections::log::metadata;
use peerpx_projections::{statuses, Page};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};

use crate::harness::{Engine, TestNode};
use crate::on_every_engine;

on_every_engine!(home_feed_gives_the_reference_pages_for_random_histories);

/// Accounts per history.
const PEOPLE: u8 = 4;

#[derive(Debug, Clone)]
enum Step {
    Follow(u8, u8),
    Unfollow(u8, u8),
    Post(u8, Visibility, Option<u8>),
    Delete(u8),
    Reblog(u8, u8),
    Unreblog(u8, u8),
    Block(u8, u8),
    Unblock(u8, u8),
    Mute(u8, u8),
    Unmute(u8, u8),
    Suspend(u8),
    Unsuspend(u8),
}

fn step() -> impl Strategy<Value = Step> {
    let who = 0..PEOPLE;
    let pair = (0..PEOPLE, 0..PEOPLE);
    let visibility = prop_oneof![
        Just(Visibility::Public),
        Just(Visibility::Unlisted),
        Just(Visibility::Private),
        Just(Visibility::Direct),
    ];
    prop_oneof![
        6 => pair.clone().prop_map(|(a, b)| Step::Follow(a, b)),
        2 => pair.clone().prop_map(|(a, b)| Step::Unfollow(a, b)),
        8 => (who.clone(), visibility, proptest::option::of(0..PEOPLE))
            .prop_map(|(a, v, m)| Step::Post(a, v, m)),
        2 => any::<u8>().prop_map(Step::Delete),
        3 => (who.clone(), any::<u8>()).prop_map(|(a, s)| Step::Reblog(a, s)),
        1 => (who.clone(), any::<u8>()).prop_map(|(a, s)| Step::Unreblog(a, s)),
        2 => pair.clone().prop_map(|(a, b)| Step::Block(a, b)),
        1 => pair.clone().prop_map(|(a, b)| Step::Unblock(a, b)),
        2 => pair.clone().prop_map(|(a, b)| Step::Mute(a, b)),
        1 => pair.prop_map(|(a, b)| Step::Unmute(a, b)),
        1 => who.clone().prop_map(Step::Suspend),
        1 => who.prop_map(Step::Unsuspend),
    ]
}

/// Unique ids across the cases run on one node (statuses and accounts alike).
static NEXT_ID: AtomicU64 = AtomicU64::new(1_000_000);

fn next_id() -> String {
    NEXT_ID.fetch_add(1, Ordering::Relaxed).to_string()
}

/// One history being run: its accounts and the statuses posted so far (id, author, visibility).
struct Case<'a> {
    state: &'a AppState,
    people: Vec<String>,
    posted: Vec<(String, String, Visibility)>,
    suspended: BTreeSet<String>,
    at: i64,
}

impl Case<'_> {
    fn now(&mut self) -> i64 {
        self.at += 1;
        self.at
    }

    async fn relationship(&mut self, a: u8, b: u8, command: RelationshipCommand) {
        let (a, b) = (&self.people[usize::from(a)], &self.people[usize::from(b)]);
        // Refused commands (a follow of oneself, of someone one blocks…) are part of the game.
        let _ = self
            .state
            .commands
            .relationship(a, b, command, metadata(Some(a), "test"))
            .await;
    }

    async fn run(&mut self, step: &Step) {
        let at = self.now();
        let people = self.people.clone();
        let person = |i: &u8| people[usize::from(*i)].clone();
        match step {
            Step::Follow(a, b) => {
                let command = RelationshipCommand::Follow {
                    account_id: person(a),
                    target_id: person(b),
                    locked: false,
                    at,
                };
                self.relationship(*a, *b, command).await;
            }
            Step::Unfollow(a, b) => {
                self.relationship(*a, *b, RelationshipCommand::Unfollow { at })
                    .await
            }
            Step::Block(a, b) => {
                let command = RelationshipCommand::Block {
                    account_id: person(a),
                    target_id: person(b),
                    at,
                };
                self.relationship(*a, *b, command).await;
                // As the API does: the blocked account's own follow ends too.
                self.relationship(*b, *a, RelationshipCommand::Sever { at })
                    .await;
            }
            Step::Unblock(a, b) => {
                self.relationship(*a, *b, RelationshipCommand::Unblock { at })
                    .await
            }
            Step::Mute(a, b) => {
                let command = RelationshipCommand::Mute {
                    account_id: person(a),
                    target_id: person(b),
                    notifications: true,
                    at,
                };
                self.relationship(*a, *b, command).await;
            }
            Step::Unmute(a, b) => {
                self.relationship(*a, *b, RelationshipCommand::Unmute { at })
                    .await
            }
            Step::Post(a, visibility, mention) => {
                self.post(person(a), *visibility, *mention, at).await
            }
            Step::Delete(i) => {
                if self.posted.is_empty() {
                    return;
                }
                let (id, author, _) = self.posted.remove(usize::from(*i) % self.posted.len());
                let command = StatusCommand::Delete {
                    account_id: author.clone(),
                    as_moderator: false,
                    at,
                };
                let meta = metadata(Some(&author), "test");
                self.state
                    .commands
                    .status(&id, command, meta)
                    .await
                    .expect("delete");
            }
            Step::Reblog(a, i) | Step::Unreblog(a, i) => {
                if self.posted.is_empty() {
                    return;
                }
                let (id, author, visibility) =
                    self.posted[usize::from(*i) % self.posted.len()].clone();
                let booster = person(a);
                let command = match step {
                    Step::Reblog(..) => EngagementCommand::Reblog {
                        target: Target {
                            account_id: booster.clone(),
                            status_id: id.clone(),
                            status_account_id: author,
                        },
                        original: visibility,
                        reblog: Reblog {
                            id: next_id(),
                            visibility: Visibility::Public,
                            uri: None,
                        },
                        at,
                    },
                    _ => EngagementCommand::Unreblog { at },
                };
                let meta = metadata(Some(&booster), "test");
                // Private and direct statuses cannot be reblogged: refused.
                let _ = self
                    .state
                    .commands
                    .engagement(&booster, &id, command, meta)
                    .await;
            }
            Step::Suspend(a) | Step::Unsuspend(a) => {
                let name = format!("p{}", person(a));
                let command = match step {
                    Step::Suspend(_) => AccountCommand::Suspend { at },
                    _ => AccountCommand::Unsuspend { at },
                };
                if self
                    .state
                    .commands
                    .account(&name, command, metadata(None, "test"))
                    .await
                    .is_ok()
                {
                    match step {
                        Step::Suspend(_) => self.suspended.insert(person(a)),
                        _ => self.suspended.remove(&person(a)),
                    };
                }
            }
        }
    }

    async fn post(&mut self, author: String, visibility: Visibility, mention: Option<u8>, at: i64) {
        let id = next_id();
        let mentions = mention
            .map(|m| self.people[usize::from(m)].clone())
            .filter(|m| *m != author)
            .map(|m| Mention {
                username: format!("p{m}"),
                account_id: m,
            })
            .into_iter()
            .collect();
        let post = Post {
            id: id.clone(),
            account_id: author.clone(),
            visibility,
            in_reply_to: None,
            content: Content {
                text: format!("status {id}"),
                html: format!("<p>status {id}</p>"),
                licence: "all-rights-reserved".into(),
                mentions,
                ..Content::default()
            },
            at,
            remote: None,
        };
        let meta = metadata(Some(&author), "test");
        self.state
            .commands
            .status(&id, StatusCommand::Post(post), meta)
            .await
            .expect("post");
        self.posted.push((id, author, visibility));
    }

    /// Every account's pages from the feed equal the reference's; the feed rows are the
    /// reference's statuses plus only statuses of suspended accounts.
    async fn check(&self) -> Result<(), String> {
        let db = &self.state.db;
        for viewer in &self.people {
            let reference = statuses::home_reference(db, viewer, Page::first(1000))
                .await
                .map_err(|e| e.to_string())?;
            let want: Vec<i64> = reference.iter().map(|s| s.id).collect();
            // Pages of 3, walked with max_id, and one min_id page.
            let mut got = Vec::new();
            let mut page = Page::first(3);
            loop {
                let rows = statuses::home(db, viewer, page)
                    .await
                    .map_err(|e| e.to_string())?;
                got.extend(rows.iter().map(|s| s.id));
                match rows.last() {
                    Some(last) if rows.len() == 3 => page.max_id = Some(last.id),
                    _ => break,
                }
            }
            if got != want {
                return Err(format!(
                    "home of {viewer}: feed {got:?}, reference {want:?}"
                ));
            }
            if want.len() > 2 {
                let page = Page {
                    min_id: Some(want[want.len() - 1]),
                    ..Page::first(2)
                };
                let feed: Vec<i64> = statuses::home(db, viewer, page)
                    .await
                    .map_err(|e| e.to_string())?
                    .iter()
                    .map(|s| s.id)
                    .collect();
                let expected = want[want.len() - 3..want.len() - 1].to_vec();
                if feed != expected {
                    return Err(format!(
                        "min_id page of {viewer}: {feed:?}, not {expected:?}"
                    ));
                }
            }
            let rows = statuses::home_feed_ids(db, viewer)
                .await
                .map_err(|e| e.to_string())?;
            let want: BTreeSet<i64> = want.into_iter().collect();
            for id in rows.iter().filter(|id| !want.contains(id)) {
                let status = statuses::by_id(db, *id)
                    .await
                    .map_err(|e| e.to_string())?
                    .ok_or(format!("feed of {viewer} holds {id}, which is gone"))?;
                let original = match status.reblog_of_id {
                    Some(o) => statuses::by_id(db, o)
                        .await
                        .map_err(|e| e.to_string())?
                        .map(|o| o.account_id),
                    None => None,
                };
                let hidden_by_suspension = self.suspended.contains(&status.account_id)
                    || original.is_some_and(|o| self.suspended.contains(&o));
                if !hidden_by_suspension {
                    return Err(format!(
                        "feed of {viewer} holds {id} ({status:?}) that the reference leaves out"
                    ));
                }
            }
            let rows: BTreeSet<i64> = rows.into_iter().collect();
            if let Some(missing) = want.difference(&rows).next() {
                return Err(format!("feed of {viewer} lacks {missing}"));
            }
        }
        Ok(())
    }
}

async fn run_case(state: &AppState, steps: &[Step]) -> Result<(), String> {
    let mut people = Vec::new();
    for _ in 0..PEOPLE {
        let id = next_id();
        let name = format!("p{id}");
        let registration = Registration {
            id: id.clone(),
            username: name.clone(),
            email: format!("{name}@example.org"),
            password_hash: "not a hash".into(),
            locale: "en".into(),
            reason: None,
            role: Role::User,
            approved: true,
            at: 1,
            key: None,
        };
        state
            .commands
            .account(
                &name,
                AccountCommand::Register(registration),
                metadata(None, "test"),
            )
            .await
            .map_err(|e| e.to_string())?;
        people.push(id);
    }
    let mut case = Case {
        state,
        people,
        posted: Vec::new(),
        suspended: BTreeSet::new(),
        at: 10,
    };
    for step in steps {
        case.run(step).await;
    }
    let head = state
        .commands
        .log()
        .head()
        .await
        .map_err(|e| e.to_string())?;
    state.settle(head).await;
    case.check().await
}

async fn home_feed_gives_the_reference_pages_for_random_histories(engine: Engine) {
    let Some(node) = TestNode::start(engine).await else {
        return;
    };
    let state = node.node().state.clone();
    let cases = if engine == Engine::Sqlite { 24 } else { 12 };
    let mut runner = TestRunner::new(Config {
        cases,
        failure_persistence: None,
        ..Config::default()
    });
    let handle = tokio::runtime::Handle::current();
    let histories = proptest::collection::vec(step(), 1..40);
    let result = runner.run(&histories, |steps| {
        tokio::task::block_in_place(|| handle.block_on(run_case(&state, &steps)))
            .map_err(TestCaseError::fail)
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    // Every case's feeds, rebuilt from the log, are the same rows.
    node.assert_replays_identically().await;
    node.stop().await;
}

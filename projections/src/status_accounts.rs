//! Part of the statuses read model: what it keeps of each account (`status_accounts`), so that
//! its counters and home feeds never read the accounts read model, which follows the log at its
//! own pace.
//!
//! A row says whether the account is ours (it has a home feed), whether it is active (its
//! reblogs count, as `reblogs::counts` always counted them), how many statuses it has (direct
//! ones left out, as Mastodon counts them) and when it last posted one, and an upper bound of its
//! home feed's rows (`home.rs` trims with it).

use std::collections::{BTreeMap, BTreeSet};

use peerpx_aggregates::{AccountEvent, RemoteAccountEvent};
use sqlx::Row;

use crate::db::{placeholders, TextRow};
use crate::projector::Tx;
use crate::recorded::{DomainEvent, Recorded};
use crate::Result;

/// Keys per `IN (…)` list and rows per multi-row INSERT: well under every engine's bind limit.
const KEYS_PER_QUERY: usize = 500;
const ROWS_PER_INSERT: usize = 100;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccountFacts {
    pub account_id: String,
    /// The lower-cased username of a local account, the actor URI of a remote one: the id of
    /// the aggregate whose events change the row.
    pub event_key: String,
    pub local: bool,
    /// Exactly when the accounts read model says `state = 'active'`.
    pub active: bool,
    pub statuses_count: i64,
    pub last_status_at: Option<i64>,
    pub home_rows: i64,
}

/// The account events this read model keeps anything of.
pub fn concerns(event: &DomainEvent) -> bool {
    use AccountEvent as A;
    match event {
        DomainEvent::Account(e) => matches!(
            e,
            A::AccountRegistered(_)
                | A::AccountApproved { .. }
                | A::AccountRejected { .. }
                | A::AccountSuspended { .. }
                | A::AccountUnsuspended { .. }
                | A::AccountDeleted { .. }
        ),
        DomainEvent::RemoteAccount(_) => true,
        _ => false,
    }
}

/// An account's row after one more of its events, keyed by the event's aggregate id. Mirrors
/// the state `accounts::fold` and `accounts::fold_remote` give (a test holds them together).
pub fn fold(row: Option<AccountFacts>, key: &str, event: &DomainEvent) -> Option<AccountFacts> {
    use AccountEvent as A;
    use RemoteAccountEvent as R;
    let fresh = |account_id: &str, local: bool, active: bool| AccountFacts {
        account_id: account_id.to_string(),
        event_key: key.to_string(),
        local,
        active,
        statuses_count: 0,
        last_status_at: None,
        home_rows: 0,
    };
    let set_active =
        |row: Option<AccountFacts>, active: bool| row.map(|r| AccountFacts { active, ..r });
    match event {
        DomainEvent::Account(e) => match e {
            A::AccountRegistered(r) => Some(fresh(&r.id, true, r.approved)),
            A::AccountRejected { .. } => None,
            A::AccountApproved { .. } | A::AccountUnsuspended { .. } => set_active(row, true),
            A::AccountSuspended { .. } | A::AccountDeleted { .. } => set_active(row, false),
            _ => row,
        },
        DomainEvent::RemoteAccount(e) => match e {
            // The accounts read model writes a whole new row; the counts here stay, since the
            // statuses they count are still there.
            R::RemoteAccountFetched { id, .. } => Some(match row {
                Some(r) if r.account_id == *id => AccountFacts { active: true, ..r },
                _ => fresh(id, false, true),
            }),
            R::RemoteAccountRefreshed { .. } => set_active(row, true),
            R::RemoteAccountDeleted { .. } => set_active(row, false),
        },
        _ => row,
    }
}

const COLUMNS: &str = "account_id, event_key, is_local, is_active, statuses_count, \
    last_status_at, home_rows";

fn from_row(row: &sqlx::any::AnyRow) -> Result<AccountFacts> {
    Ok(AccountFacts {
        account_id: row.text("account_id")?,
        event_key: row.text("event_key")?,
        local: row.try_get::<i64, _>("is_local")? != 0,
        active: row.try_get::<i64, _>("is_active")? != 0,
        statuses_count: row.try_get("statuses_count")?,
        last_status_at: row.try_get("last_status_at")?,
        home_rows: row.try_get("home_rows")?,
    })
}

async fn load(tx: &mut Tx<'_>, keys: &[&str]) -> Result<BTreeMap<String, AccountFacts>> {
    let mut out = BTreeMap::new();
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let sql = format!(
            "SELECT {COLUMNS} FROM status_accounts WHERE event_key IN ({})",
            placeholders(chunk.len())
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for k in chunk {
            query = query.bind(k.to_string());
        }
        for row in query.fetch_all(&mut *tx.conn).await? {
            let facts = from_row(&row)?;
            out.insert(facts.event_key.clone(), facts);
        }
    }
    Ok(out)
}

async fn store(tx: &mut Tx<'_>, keys: &[&str], rows: &[&AccountFacts]) -> Result<()> {
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let sql = format!(
            "DELETE FROM status_accounts WHERE event_key IN ({})",
            placeholders(chunk.len())
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for k in chunk {
            query = query.bind(k.to_string());
        }
        query.execute(&mut *tx.conn).await?;
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let values = vec!["(?, ?, ?, ?, ?, ?, ?)"; chunk.len()].join(", ");
        let sql = format!("INSERT INTO status_accounts ({COLUMNS}) VALUES {values}");
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for r in chunk {
            query = query
                .bind(r.account_id.clone())
                .bind(r.event_key.clone())
                .bind(i64::from(r.local))
                .bind(i64::from(r.active))
                .bind(r.statuses_count)
                .bind(r.last_status_at)
                .bind(r.home_rows);
        }
        query.execute(&mut *tx.conn).await?;
    }
    Ok(())
}

/// Applies consecutive account events (those [`concerns`] accepts): loads the rows they touch,
/// folds them in memory, writes back the rows that changed, and moves the reblog counts of the
/// statuses reblogged by an account that became active or inactive.
pub async fn apply_run(tx: &mut Tx<'_>, events: &[&Recorded]) -> Result<()> {
    if events.is_empty() {
        return Ok(());
    }
    let keys: Vec<&str> = events
        .iter()
        .map(|r| r.aggregate_id.as_str())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let before = load(tx, &keys).await?;
    let mut after: BTreeMap<&str, Option<AccountFacts>> =
        keys.iter().map(|k| (*k, before.get(*k).cloned())).collect();
    for r in events {
        let key = r.aggregate_id.as_str();
        let current = after.get_mut(key).and_then(Option::take);
        after.insert(key, fold(current, key, &r.event));
    }
    let changed: Vec<&str> = keys
        .iter()
        .copied()
        .filter(|k| before.get(*k) != after.get(k).and_then(Option::as_ref))
        .collect();
    let rows: Vec<&AccountFacts> = changed
        .iter()
        .filter_map(|k| after.get(k).and_then(Option::as_ref))
        .collect();
    store(tx, &changed, &rows).await?;
    for key in changed {
        let (Some(old), Some(new)) = (before.get(key), after.get(key).and_then(Option::as_ref))
        else {
            continue;
        };
        if old.account_id == new.account_id && old.active != new.active {
            let delta = if new.active { 1 } else { -1 };
            move_reblog_counts(tx, &new.account_id, delta).await?;
        }
    }
    Ok(())
}

/// Adds `delta` to the reblog count of every status `booster` reblogged.
async fn move_reblog_counts(tx: &mut Tx<'_>, booster: &str, delta: i64) -> Result<()> {
    // Two statements: MySQL cannot update `statuses` from a subquery on `statuses`.
    let sql = tx
        .sql("SELECT reblog_of_id FROM statuses WHERE account_id = ? AND reblog_of_id IS NOT NULL")
        .into_owned();
    let originals: Vec<i64> = sqlx::query(&sql)
        .bind(booster.to_string())
        .fetch_all(&mut *tx.conn)
        .await?
        .iter()
        .map(|r| r.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    for chunk in originals.chunks(KEYS_PER_QUERY) {
        let sql = format!(
            "UPDATE statuses SET reblogs_count = reblogs_count + ? WHERE id IN ({})",
            placeholders(chunk.len())
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql).bind(delta);
        for id in chunk {
            query = query.bind(*id);
        }
        query.execute(&mut *tx.conn).await?;
    }
    Ok(())
}

/// One account's row, if the read model has it.
pub async fn get(tx: &mut Tx<'_>, account_id: &str) -> Result<Option<AccountFacts>> {
    let sql = format!("SELECT {COLUMNS} FROM status_accounts WHERE account_id = ?");
    let sql = tx.sql(&sql).into_owned();
    sqlx::query(&sql)
        .bind(account_id.to_string())
        .fetch_optional(&mut *tx.conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()
}

/// Counts a new status (or reblog) of `account_id` posted at `at`.
pub async fn status_added(
    tx: &mut Tx<'_>,
    account_id: &str,
    visibility: &str,
    at: i64,
) -> Result<()> {
    if visibility == "direct" {
        return Ok(());
    }
    let sql = tx
        .sql(
            "UPDATE status_accounts SET statuses_count = statuses_count + 1, \
             last_status_at = CASE WHEN last_status_at IS NULL OR last_status_at < ? THEN ? \
             ELSE last_status_at END WHERE account_id = ?",
        )
        .into_owned();
    sqlx::query(&sql)
        .bind(at)
        .bind(at)
        .bind(account_id.to_string())
        .execute(&mut *tx.conn)
        .await?;
    Ok(())
}

/// Uncounts a status (or reblog) of `account_id` posted at `at`, once its row is gone from
/// `statuses`; the newest remaining one gives `last_status_at` when it was the newest.
pub async fn status_removed(
    tx: &mut Tx<'_>,
    account_id: &str,
    visibility: &str,
    at: i64,
) -> Result<()> {
    if visibility == "direct" {
        return Ok(());
    }
    let Some(facts) = get(tx, account_id).await? else {
        return Ok(());
    };
    let last = if facts.last_status_at.is_some_and(|last| last <= at) {
        let sql = tx
            .sql(
                "SELECT MAX(created_at) FROM statuses WHERE account_id = ? \
                 AND visibility <> 'direct'",
            )
            .into_owned();
        sqlx::query(&sql)
            .bind(account_id.to_string())
            .fetch_one(&mut *tx.conn)
            .await?
            .try_get::<Option<i64>, _>(0)?
    } else {
        facts.last_status_at
    };
    let sql = tx
        .sql(
            "UPDATE status_accounts SET statuses_count = statuses_count - 1, last_status_at = ? \
             WHERE account_id = ?",
        )
        .into_owned();
    sqlx::query(&sql)
        .bind(last)
        .bind(account_id.to_string())
        .execute(&mut *tx.conn)
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerpx_aggregates::account::Registration;
    use peerpx_aggregates::{RemoteProfile, Role};

    fn registered(approved: bool) -> DomainEvent {
        DomainEvent::Account(AccountEvent::AccountRegistered(Registration {
            id: "7".into(),
            username: "Zoe".into(),
            email: "zoe@example.org".into(),
            password_hash: "h".into(),
            locale: "en".into(),
            reason: None,
            role: Role::User,
            approved,
            at: 1,
            key: None,
        }))
    }

    fn local(e: AccountEvent) -> DomainEvent {
        DomainEvent::Account(e)
    }

    fn profile() -> RemoteProfile {
        RemoteProfile {
            uri: "https://remote.example/u/ray".into(),
            username: "ray".into(),
            domain: "remote.example".into(),
            display_name: String::new(),
            note_html: String::new(),
            avatar_url: None,
            header_url: None,
            url: None,
            locked: false,
            bot: false,
            inbox: "https://remote.example/inbox".into(),
            shared_inbox: None,
            followers: None,
            following: None,
            public_key_id: "k".into(),
            public_key_pem: "p".into(),
        }
    }

    /// The accounts read model's `state = 'active'` after the same events.
    fn active_in_accounts(events: &[DomainEvent]) -> Option<bool> {
        let mut row = None;
        for e in events {
            row = match e {
                DomainEvent::Account(e) => crate::accounts::fold(row, e),
                DomainEvent::RemoteAccount(e) => crate::accounts::fold_remote(row, e),
                _ => row,
            };
        }
        row.map(|a| a.state == "active")
    }

    fn active_here(events: &[DomainEvent]) -> Option<bool> {
        events
            .iter()
            .fold(None, |row, e| fold(row, "zoe", e))
            .map(|r| r.active)
    }

    #[test]
    fn active_follows_the_accounts_read_model_through_every_state() {
        use AccountEvent as A;
        let histories = vec![
            vec![registered(true)],
            vec![registered(false)],
            vec![registered(false), local(A::AccountApproved { at: 2 })],
            vec![registered(false), local(A::AccountRejected { at: 2 })],
            vec![registered(true), local(A::AccountSuspended { at: 2 })],
            vec![
                registered(true),
                local(A::AccountSuspended { at: 2 }),
                local(A::AccountUnsuspended { at: 3 }),
            ],
            vec![registered(true), local(A::AccountDeleted { at: 2 })],
            vec![local(A::AccountSuspended { at: 2 })],
            vec![
                DomainEvent::RemoteAccount(RemoteAccountEvent::RemoteAccountFetched {
                    id: "9".into(),
                    profile: profile(),
                    at: 1,
                }),
                DomainEvent::RemoteAccount(RemoteAccountEvent::RemoteAccountDeleted { at: 2 }),
            ],
            vec![
                DomainEvent::RemoteAccount(RemoteAccountEvent::RemoteAccountFetched {
                    id: "9".into(),
                    profile: profile(),
                    at: 1,
                }),
                DomainEvent::RemoteAccount(RemoteAccountEvent::RemoteAccountRefreshed {
                    profile: profile(),
                    at: 2,
                }),
            ],
        ];
        for events in histories {
            assert_eq!(
                active_here(&events),
                active_in_accounts(&events),
                "{events:?}"
            );
        }
    }

    #[test]
    fn only_registrations_state_changes_and_remote_accounts_concern_it() {
        use AccountEvent as A;
        assert!(concerns(&registered(true)));
        assert!(concerns(&local(A::AccountSuspended { at: 1 })));
        assert!(!concerns(&local(A::PasswordChanged {
            password_hash: "h".into(),
            at: 1
        })));
        assert!(!concerns(&local(A::ProfileUpdated {
            changes: Default::default(),
            at: 1
        })));
    }
}

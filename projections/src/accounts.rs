//! Read model: accounts, as the API shows them. Rejected accounts are removed (as in Mastodon).

use std::collections::{BTreeSet, HashMap};

use peerpx_aggregates::account::{ImageRef, ProfileField, Registration};
use peerpx_aggregates::{AccountEvent, ProfileChanges};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::TextRow;

use crate::projector::{Projection, Tx};
use crate::recorded::{DomainEvent, Recorded};
use crate::{Db, Result};

#[derive(Debug, Clone, PartialEq)]
pub struct AccountRow {
    pub id: String,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub display_name: String,
    pub note: String,
    pub avatar: Option<ImageRef>,
    pub header: Option<ImageRef>,
    pub locked: bool,
    pub bot: bool,
    pub discoverable: bool,
    pub fields: Vec<ProfileField>,
    pub role: String,
    /// `pending`, `active` or `suspended`.
    pub state: String,
    pub locale: String,
    pub reason: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

impl AccountRow {
    pub fn is_admin(&self) -> bool {
        self.role == "admin"
    }
    pub fn is_staff(&self) -> bool {
        self.role == "admin" || self.role == "moderator"
    }
}

const COLUMNS: &str = "id, username, email, password_hash, display_name, note, avatar_hash, \
    avatar_type, header_hash, header_type, locked, bot, discoverable, fields, role, state, locale, \
    reason, created_at, updated_at";

fn image(row: &AnyRow, hash: &str, kind: &str) -> Result<Option<ImageRef>> {
    let hash: Option<String> = row.opt_text(hash)?;
    let kind: Option<String> = row.opt_text(kind)?;
    Ok(hash
        .zip(kind)
        .map(|(hash, content_type)| ImageRef { hash, content_type }))
}

fn from_row(row: &AnyRow) -> Result<AccountRow> {
    let fields: String = row.text("fields")?;
    Ok(AccountRow {
        id: row.text("id")?,
        username: row.text("username")?,
        email: row.text("email")?,
        password_hash: row.text("password_hash")?,
        display_name: row.text("display_name")?,
        note: row.text("note")?,
        avatar: image(row, "avatar_hash", "avatar_type")?,
        header: image(row, "header_hash", "header_type")?,
        locked: row.try_get::<i64, _>("locked")? != 0,
        bot: row.try_get::<i64, _>("bot")? != 0,
        discoverable: row.try_get::<i64, _>("discoverable")? != 0,
        fields: serde_json::from_str(&fields).unwrap_or_default(),
        role: row.text("role")?,
        state: row.text("state")?,
        locale: row.text("locale")?,
        reason: row.opt_text("reason")?,
        created_at: row.try_get("created_at")?,
        updated_at: row.try_get("updated_at")?,
    })
}

async fn one(db: &Db, condition: &str, value: &str) -> Result<Option<AccountRow>> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE {condition}");
    let row = sqlx::query(&db.sql(&sql))
        .bind(value)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row).transpose()
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<AccountRow>> {
    one(db, "id = ?", id).await
}

pub async fn by_username(db: &Db, username: &str) -> Result<Option<AccountRow>> {
    one(db, "username_lower = ?", &username.to_lowercase()).await
}

/// Finds the account a login names: its email (as Mastodon) or its username.
pub async fn by_login(db: &Db, login: &str) -> Result<Option<AccountRow>> {
    let login = login.trim().to_lowercase();
    if login.contains('@') {
        one(db, "email_lower = ?", &login).await
    } else {
        one(db, "username_lower = ?", &login).await
    }
}

pub async fn email_taken(db: &Db, email: &str) -> Result<bool> {
    Ok(one(db, "email_lower = ?", &email.to_lowercase())
        .await?
        .is_some())
}

/// Filters for the admin account list.
#[derive(Debug, Default, Clone)]
pub struct AccountFilter {
    /// `pending`, `active` or `suspended`.
    pub state: Option<String>,
    pub staff: bool,
    pub username: Option<String>,
    pub email: Option<String>,
    pub max_id: Option<String>,
    pub since_id: Option<String>,
    pub min_id: Option<String>,
    pub limit: i64,
}

/// Lists accounts newest first (ids grow with time), Mastodon-style pagination by id.
pub async fn list(db: &Db, filter: &AccountFilter) -> Result<Vec<AccountRow>> {
    let mut conditions = vec!["1 = 1".to_string()];
    let mut binds: Vec<String> = Vec::new();
    if let Some(state) = &filter.state {
        conditions.push("state = ?".into());
        binds.push(state.clone());
    }
    if filter.staff {
        conditions.push("role IN ('admin', 'moderator')".into());
    }
    if let Some(u) = &filter.username {
        conditions.push("username_lower LIKE ?".into());
        binds.push(format!("{}%", u.to_lowercase().replace(['%', '_'], "")));
    }
    if let Some(e) = &filter.email {
        conditions.push("email_lower LIKE ?".into());
        binds.push(format!("%{}%", e.to_lowercase().replace(['%', '_'], "")));
    }
    // Ids are decimal strings of equal length for a long while; compare them as numbers anyway.
    for (id, op) in [
        (&filter.max_id, "<"),
        (&filter.since_id, ">"),
        (&filter.min_id, ">"),
    ] {
        if let Some(id) = id {
            conditions.push(format!(
                "LENGTH(id) {op}= LENGTH(?) AND (LENGTH(id) <> LENGTH(?) OR id {op} ?)"
            ));
            binds.extend([id.clone(), id.clone(), id.clone()]);
        }
    }
    let order = if filter.min_id.is_some() {
        "ASC"
    } else {
        "DESC"
    };
    let sql = format!(
        "SELECT {COLUMNS} FROM accounts WHERE {} ORDER BY LENGTH(id) {order}, id {order} LIMIT ?",
        conditions.join(" AND ")
    );
    let sql = db.sql(&sql);
    let mut query = sqlx::query(&sql);
    for b in binds {
        query = query.bind(b);
    }
    let rows = query.bind(filter.limit).fetch_all(&db.pool).await?;
    let mut out = rows.iter().map(from_row).collect::<Result<Vec<_>>>()?;
    if filter.min_id.is_some() {
        out.reverse();
    }
    Ok(out)
}

pub async fn count_active(db: &Db) -> Result<i64> {
    let row = sqlx::query("SELECT COUNT(*) FROM accounts WHERE state = 'active'")
        .fetch_one(&db.pool)
        .await?;
    Ok(row.try_get(0)?)
}

/// The read model as a pure fold: an account's row after one more of its events (`None`: no row).
pub fn fold(row: Option<AccountRow>, event: &AccountEvent) -> Option<AccountRow> {
    use AccountEvent as E;
    let at = match event {
        E::AccountRegistered(r) => return Some(registered(r)),
        E::AccountRejected { .. } => return None,
        E::AccountApproved { at }
        | E::AccountUnsuspended { at }
        | E::AccountSuspended { at }
        | E::ProfileUpdated { at, .. }
        | E::PasswordChanged { at, .. }
        | E::RoleChanged { at, .. } => *at,
    };
    let mut a = row?;
    match event {
        E::AccountApproved { .. } | E::AccountUnsuspended { .. } => a.state = "active".into(),
        E::AccountSuspended { .. } => a.state = "suspended".into(),
        E::PasswordChanged { password_hash, .. } => a.password_hash = password_hash.clone(),
        E::RoleChanged { role, .. } => a.role = role.as_str().into(),
        E::ProfileUpdated { changes, .. } => apply_profile(&mut a, changes),
        E::AccountRegistered(_) | E::AccountRejected { .. } => {}
    }
    a.updated_at = at;
    Some(a)
}

fn registered(r: &Registration) -> AccountRow {
    AccountRow {
        id: r.id.clone(),
        username: r.username.clone(),
        email: r.email.clone(),
        password_hash: r.password_hash.clone(),
        display_name: String::new(),
        note: String::new(),
        avatar: None,
        header: None,
        locked: false,
        bot: false,
        discoverable: true,
        fields: Vec::new(),
        role: r.role.as_str().into(),
        state: if r.approved { "active" } else { "pending" }.into(),
        locale: r.locale.clone(),
        reason: r.reason.clone(),
        created_at: r.at,
        updated_at: r.at,
    }
}

fn apply_profile(a: &mut AccountRow, c: &ProfileChanges) {
    if let Some(v) = &c.display_name {
        a.display_name = v.clone();
    }
    if let Some(v) = &c.note {
        a.note = v.clone();
    }
    if let Some(v) = &c.avatar {
        a.avatar = Some(v.clone());
    }
    if let Some(v) = &c.header {
        a.header = Some(v.clone());
    }
    if let Some(v) = c.locked {
        a.locked = v;
    }
    if let Some(v) = c.bot {
        a.bot = v;
    }
    if let Some(v) = c.discoverable {
        a.discoverable = v;
    }
    if let Some(v) = &c.fields {
        a.fields = v.clone();
    }
}

/// Keys per `IN (…)` list and rows per multi-row INSERT: well under every engine's bind limit.
const KEYS_PER_QUERY: usize = 500;
const ROWS_PER_INSERT: usize = 50;

fn placeholders(n: usize) -> String {
    vec!["?"; n].join(", ")
}

async fn load(tx: &mut Tx<'_>, keys: &[String]) -> Result<HashMap<String, AccountRow>> {
    let mut out = HashMap::new();
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let sql = format!(
            "SELECT {COLUMNS} FROM accounts WHERE username_lower IN ({})",
            placeholders(chunk.len())
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for k in chunk {
            query = query.bind(k.clone());
        }
        for row in query.fetch_all(&mut *tx.conn).await? {
            let account = from_row(&row)?;
            out.insert(account.username.to_lowercase(), account);
        }
    }
    Ok(out)
}

async fn store(tx: &mut Tx<'_>, keys: &[String], rows: &[AccountRow]) -> Result<()> {
    for chunk in keys.chunks(KEYS_PER_QUERY) {
        let sql = format!(
            "DELETE FROM accounts WHERE username_lower IN ({})",
            placeholders(chunk.len())
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for k in chunk {
            query = query.bind(k.clone());
        }
        query.execute(&mut *tx.conn).await?;
    }
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let values = vec![format!("({})", placeholders(22)); chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO accounts (id, username, username_lower, email, email_lower, password_hash, \
             display_name, note, avatar_hash, avatar_type, header_hash, header_type, locked, bot, \
             discoverable, fields, role, state, locale, reason, created_at, updated_at) VALUES {values}"
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for a in chunk {
            let fields = serde_json::to_string(&a.fields).unwrap_or_else(|_| "[]".into());
            query = query
                .bind(a.id.clone())
                .bind(a.username.clone())
                .bind(a.username.to_lowercase())
                .bind(a.email.clone())
                .bind(a.email.to_lowercase())
                .bind(a.password_hash.clone())
                .bind(a.display_name.clone())
                .bind(a.note.clone())
                .bind(a.avatar.as_ref().map(|i| i.hash.clone()))
                .bind(a.avatar.as_ref().map(|i| i.content_type.clone()))
                .bind(a.header.as_ref().map(|i| i.hash.clone()))
                .bind(a.header.as_ref().map(|i| i.content_type.clone()))
                .bind(i64::from(a.locked))
                .bind(i64::from(a.bot))
                .bind(i64::from(a.discoverable))
                .bind(fields)
                .bind(a.role.clone())
                .bind(a.state.clone())
                .bind(a.locale.clone())
                .bind(a.reason.clone())
                .bind(a.created_at)
                .bind(a.updated_at);
        }
        query.execute(&mut *tx.conn).await?;
    }
    Ok(())
}

pub struct AccountsProjection;

#[async_trait::async_trait]
impl Projection for AccountsProjection {
    fn name(&self) -> &'static str {
        "accounts"
    }

    fn tables(&self) -> &'static [(&'static str, &'static str)] {
        &[("accounts", "id")]
    }

    async fn reset(&self, tx: &mut Tx<'_>) -> Result<()> {
        sqlx::query("DELETE FROM accounts")
            .execute(&mut *tx.conn)
            .await?;
        Ok(())
    }

    async fn apply(&self, tx: &mut Tx<'_>, event: &Recorded) -> Result<()> {
        self.apply_batch(tx, std::slice::from_ref(event)).await
    }

    /// Loads the accounts the batch touches, folds their events in memory and writes the rows
    /// back: a few statements per batch instead of one per event.
    async fn apply_batch(&self, tx: &mut Tx<'_>, events: &[Recorded]) -> Result<()> {
        let mine: Vec<(&str, &AccountEvent)> = events
            .iter()
            .filter_map(|r| match &r.event {
                DomainEvent::Account(e) => Some((r.aggregate_id.as_str(), e)),
                _ => None,
            })
            .collect();
        if mine.is_empty() {
            return Ok(());
        }
        let keys: Vec<String> = mine
            .iter()
            .map(|(k, _)| *k)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .map(str::to_string)
            .collect();
        let mut rows = load(tx, &keys).await?;
        let mut state: HashMap<&str, Option<AccountRow>> =
            keys.iter().map(|k| (k.as_str(), rows.remove(k))).collect();
        for (key, event) in mine {
            let current = state.get_mut(key).and_then(Option::take);
            state.insert(key, fold(current, event));
        }
        let rows: Vec<AccountRow> = state.into_values().flatten().collect();
        store(tx, &keys, &rows).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use peerpx_aggregates::account::ProfileField;
    use peerpx_aggregates::Role;

    fn registration(approved: bool) -> Registration {
        Registration {
            id: "7".into(),
            username: "Zoe".into(),
            email: "zoe@example.org".into(),
            password_hash: "h1".into(),
            locale: "fr".into(),
            reason: Some("hi".into()),
            role: Role::User,
            approved,
            at: 10,
        }
    }

    fn fold_all(events: &[AccountEvent]) -> Option<AccountRow> {
        events.iter().fold(None, fold)
    }

    #[test]
    fn a_pending_registration_then_approval_gives_an_active_row() {
        let row = fold_all(&[
            AccountEvent::AccountRegistered(registration(false)),
            AccountEvent::AccountApproved { at: 20 },
        ])
        .expect("row");
        assert_eq!(
            (row.state.as_str(), row.created_at, row.updated_at),
            ("active", 10, 20)
        );
        assert_eq!((row.username.as_str(), row.locale.as_str()), ("Zoe", "fr"));
    }

    #[test]
    fn profile_changes_touch_only_what_they_name() {
        let changes = ProfileChanges {
            note: Some("street".into()),
            fields: Some(vec![ProfileField {
                name: "Lens".into(),
                value: "35mm".into(),
            }]),
            ..Default::default()
        };
        let row = fold_all(&[
            AccountEvent::AccountRegistered(registration(true)),
            AccountEvent::ProfileUpdated { changes, at: 30 },
            AccountEvent::ProfileUpdated {
                changes: ProfileChanges {
                    display_name: Some("Z".into()),
                    ..Default::default()
                },
                at: 40,
            },
        ])
        .expect("row");
        assert_eq!(
            (row.display_name.as_str(), row.note.as_str()),
            ("Z", "street")
        );
        assert_eq!(row.fields.len(), 1);
        assert!(row.discoverable && !row.locked);
        assert_eq!(row.updated_at, 40);
    }

    #[test]
    fn rejection_removes_the_row_and_events_without_a_row_make_none() {
        assert_eq!(
            fold_all(&[
                AccountEvent::AccountRegistered(registration(false)),
                AccountEvent::AccountRejected { at: 20 },
            ]),
            None
        );
        assert_eq!(fold_all(&[AccountEvent::AccountSuspended { at: 5 }]), None);
    }
}

//! Read model: accounts, as the API shows them. Rejected accounts are removed (as in Mastodon).

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

pub struct AccountsProjection;

fn bool_int(b: bool) -> i64 {
    i64::from(b)
}

async fn insert(tx: &mut Tx<'_>, r: &Registration) -> Result<()> {
    let state = if r.approved { "active" } else { "pending" };
    sqlx::query(&tx.sql(
        "INSERT INTO accounts (id, username, username_lower, email, email_lower, password_hash, \
         display_name, note, locked, bot, discoverable, fields, role, state, locale, reason, \
         created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, '', '', 0, 0, 1, '[]', ?, ?, ?, ?, ?, ?)",
    ))
    .bind(r.id.clone())
    .bind(r.username.clone())
    .bind(r.username.to_lowercase())
    .bind(r.email.clone())
    .bind(r.email.to_lowercase())
    .bind(r.password_hash.clone())
    .bind(r.role.as_str())
    .bind(state)
    .bind(r.locale.clone())
    .bind(r.reason.clone())
    .bind(r.at)
    .bind(r.at)
    .execute(&mut *tx.conn)
    .await?;
    Ok(())
}

async fn set(
    tx: &mut Tx<'_>,
    username: &str,
    assignments: &str,
    value: &str,
    at: i64,
) -> Result<()> {
    let sql = format!("UPDATE accounts SET {assignments}, updated_at = ? WHERE username_lower = ?");
    sqlx::query(&tx.sql(&sql))
        .bind(value.to_string())
        .bind(at)
        .bind(username.to_string())
        .execute(&mut *tx.conn)
        .await?;
    Ok(())
}

async fn update_profile(
    tx: &mut Tx<'_>,
    username: &str,
    c: &ProfileChanges,
    at: i64,
) -> Result<()> {
    let mut sets: Vec<&str> = Vec::new();
    let mut texts: Vec<Option<String>> = Vec::new();
    let mut push = |column: &'static str, value: Option<String>| {
        sets.push(column);
        texts.push(value);
    };
    if let Some(v) = &c.display_name {
        push("display_name = ?", Some(v.clone()));
    }
    if let Some(v) = &c.note {
        push("note = ?", Some(v.clone()));
    }
    if let Some(img) = &c.avatar {
        push("avatar_hash = ?", Some(img.hash.clone()));
        push("avatar_type = ?", Some(img.content_type.clone()));
    }
    if let Some(img) = &c.header {
        push("header_hash = ?", Some(img.hash.clone()));
        push("header_type = ?", Some(img.content_type.clone()));
    }
    if let Some(fields) = &c.fields {
        push(
            "fields = ?",
            Some(serde_json::to_string(fields).unwrap_or_else(|_| "[]".into())),
        );
    }
    let mut flags: Vec<(&str, i64)> = Vec::new();
    for (column, value) in [
        ("locked = ?", c.locked),
        ("bot = ?", c.bot),
        ("discoverable = ?", c.discoverable),
    ] {
        if let Some(v) = value {
            flags.push((column, bool_int(v)));
        }
    }
    let assignments: Vec<&str> = sets
        .iter()
        .copied()
        .chain(flags.iter().map(|f| f.0))
        .collect();
    if assignments.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "UPDATE accounts SET {}, updated_at = ? WHERE username_lower = ?",
        assignments.join(", ")
    );
    let sql = tx.sql(&sql).into_owned();
    let mut query = sqlx::query(&sql);
    for t in texts {
        query = query.bind(t);
    }
    for (_, v) in flags {
        query = query.bind(v);
    }
    query
        .bind(at)
        .bind(username.to_string())
        .execute(&mut *tx.conn)
        .await?;
    Ok(())
}

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

    async fn apply(&self, tx: &mut Tx<'_>, recorded: &Recorded) -> Result<()> {
        let DomainEvent::Account(event) = &recorded.event else {
            return Ok(());
        };
        let user = recorded.aggregate_id.as_str();
        use AccountEvent as E;
        match event {
            E::AccountRegistered(r) => insert(tx, r).await,
            E::AccountApproved { at } | E::AccountUnsuspended { at } => {
                set(tx, user, "state = ?", "active", *at).await
            }
            E::AccountSuspended { at } => set(tx, user, "state = ?", "suspended", *at).await,
            E::AccountRejected { .. } => {
                sqlx::query(&tx.sql("DELETE FROM accounts WHERE username_lower = ?"))
                    .bind(user.to_string())
                    .execute(&mut *tx.conn)
                    .await?;
                Ok(())
            }
            E::ProfileUpdated { changes, at } => update_profile(tx, user, changes, *at).await,
            E::PasswordChanged { password_hash, at } => {
                set(tx, user, "password_hash = ?", password_hash, *at).await
            }
            E::RoleChanged { role, at } => set(tx, user, "role = ?", role.as_str(), *at).await,
        }
    }
}

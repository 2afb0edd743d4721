//! Read model: accounts, as the API shows them. Rejected accounts are removed (as in Mastodon).

use std::collections::{BTreeSet, HashMap};

use peerpx_aggregates::account::{ImageRef, ProfileField, Registration};
use peerpx_aggregates::{AccountEvent, ProfileChanges, RemoteAccountEvent, RemoteProfile};
use sqlx::any::AnyRow;
use sqlx::Row;

use crate::db::TextRow;

use crate::projector::{Projection, Tx};
use crate::recorded::{DomainEvent, Recorded};
use crate::{Backend, Db, Result};

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
    /// The actor's RSA key pair for HTTP signatures (SPKI and PKCS#8 PEM); `None` only for an
    /// account registered before keys existed, until the node gives it one at start.
    pub public_key_pem: Option<String>,
    pub private_key_pem: Option<String>,
    /// Counts from the other read models, filled in by the queries below (not stored).
    pub stats: AccountStats,
    /// Where the account lives when it is not ours (`None`: a local account).
    pub remote: Option<RemoteRow>,
}

/// What a remote account's row adds: its addresses on its own server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteRow {
    pub domain: String,
    /// The actor id.
    pub uri: String,
    /// The profile page for people.
    pub url: Option<String>,
    pub inbox_url: String,
    pub shared_inbox_url: Option<String>,
    pub key_id: String,
    pub avatar_url: Option<String>,
    pub header_url: Option<String>,
    pub followers_url: Option<String>,
}

/// What an account's profile counts. Kept by the projections that own the rows they count, in
/// the same transactions as those rows, and joined in when the account is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct AccountStats {
    pub followers_count: i64,
    pub following_count: i64,
    /// Statuses other than direct messages, as Mastodon counts them.
    pub statuses_count: i64,
    /// When the newest of those statuses was posted.
    pub last_status_at: Option<i64>,
    /// Pending requests to follow this account.
    pub follow_requests_count: i64,
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
    reason, created_at, updated_at, public_key_pem, private_key_pem, domain, uri, url, inbox_url, \
    shared_inbox_url, key_id, avatar_remote_url, header_remote_url, followers_url";

/// `COLUMNS` plus the counts, which the projections keep beside the rows they count: followers,
/// following and requests in `follow_counts` (relationships), statuses in `status_accounts`
/// (statuses). Read from [`WITH_STATS`].
const COLUMNS_WITH_STATS: &str = "id, username, email, password_hash, display_name, note, \
    avatar_hash, avatar_type, header_hash, header_type, locked, bot, discoverable, fields, role, \
    state, locale, reason, created_at, updated_at, public_key_pem, private_key_pem, domain, uri, \
    url, inbox_url, shared_inbox_url, key_id, avatar_remote_url, header_remote_url, followers_url, \
    COALESCE(fc.followers_count, 0) AS followers_count, \
    COALESCE(fc.following_count, 0) AS following_count, \
    COALESCE(sc.statuses_count, 0) AS statuses_count, \
    sc.last_status_at AS last_status_at, \
    COALESCE(fc.follow_requests_count, 0) AS follow_requests_count";

/// `accounts` with its counters, for `COLUMNS_WITH_STATS`.
const WITH_STATS: &str = "accounts \
    LEFT JOIN follow_counts fc ON fc.account_id = accounts.id \
    LEFT JOIN status_accounts sc ON sc.account_id = accounts.id";

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
        public_key_pem: row.opt_text("public_key_pem")?,
        private_key_pem: row.opt_text("private_key_pem")?,
        stats: AccountStats::default(),
        remote: remote_from_row(row)?,
    })
}

fn remote_from_row(row: &AnyRow) -> Result<Option<RemoteRow>> {
    let Some(domain) = row.opt_text("domain")? else {
        return Ok(None);
    };
    Ok(Some(RemoteRow {
        domain,
        uri: row.opt_text("uri")?.unwrap_or_default(),
        url: row.opt_text("url")?,
        inbox_url: row.opt_text("inbox_url")?.unwrap_or_default(),
        shared_inbox_url: row.opt_text("shared_inbox_url")?,
        key_id: row.opt_text("key_id")?.unwrap_or_default(),
        avatar_url: row.opt_text("avatar_remote_url")?,
        header_url: row.opt_text("header_remote_url")?,
        followers_url: row.opt_text("followers_url")?,
    }))
}

/// A row read with `COLUMNS_WITH_STATS`.
fn from_row_with_stats(row: &AnyRow) -> Result<AccountRow> {
    let mut account = from_row(row)?;
    account.stats = AccountStats {
        followers_count: row.try_get("followers_count")?,
        following_count: row.try_get("following_count")?,
        statuses_count: row.try_get("statuses_count")?,
        last_status_at: row.try_get("last_status_at")?,
        follow_requests_count: row.try_get("follow_requests_count")?,
    };
    Ok(account)
}

async fn one(db: &Db, condition: &str, value: &str) -> Result<Option<AccountRow>> {
    let sql = format!("SELECT {COLUMNS_WITH_STATS} FROM {WITH_STATS} WHERE {condition}");
    let row = sqlx::query(&db.sql(&sql))
        .bind(value)
        .fetch_optional(&db.pool)
        .await?;
    row.as_ref().map(from_row_with_stats).transpose()
}

/// The accounts with these ids that exist, in the order asked (each once).
pub async fn by_ids(db: &Db, ids: &[String]) -> Result<Vec<AccountRow>> {
    let mut found: HashMap<String, AccountRow> = HashMap::new();
    let unique: Vec<&String> = ids.iter().collect::<BTreeSet<_>>().into_iter().collect();
    for chunk in unique.chunks(KEYS_PER_QUERY) {
        let sql = format!(
            "SELECT {COLUMNS_WITH_STATS} FROM {WITH_STATS} WHERE id IN ({})",
            placeholders(chunk.len())
        );
        let sql = db.sql(&sql);
        let mut query = sqlx::query(&sql);
        for id in chunk {
            query = query.bind((*id).clone());
        }
        for row in query.fetch_all(&db.pool).await? {
            let account = from_row_with_stats(&row)?;
            found.insert(account.id.clone(), account);
        }
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

pub async fn by_id(db: &Db, id: &str) -> Result<Option<AccountRow>> {
    one(db, "id = ?", id).await
}

/// A local account by name (any case).
pub async fn by_username(db: &Db, username: &str) -> Result<Option<AccountRow>> {
    one(
        db,
        "username_lower = ? AND domain IS NULL",
        &username.to_lowercase(),
    )
    .await
}

/// A remote account by its actor URI.
pub async fn by_uri(db: &Db, uri: &str) -> Result<Option<AccountRow>> {
    one(db, "uri = ? AND domain IS NOT NULL", uri).await
}

/// What an account left in the read models: its statuses, the statuses it boosted and
/// favourited, and its follows and follow requests both ways as `(follower, followee, the
/// account is the follower)`.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Traces {
    pub statuses: Vec<i64>,
    pub reblogged: Vec<i64>,
    pub favourited: Vec<i64>,
    pub follows: Vec<(String, String, bool)>,
}

/// The [`Traces`] of `account_id`, to erase an actor that deleted itself.
pub async fn traces(db: &Db, account_id: &str) -> Result<Traces> {
    let ids = |sql: &'static str| async move {
        let sql = db.sql(sql);
        let rows = sqlx::query(&sql)
            .bind(account_id.to_string())
            .fetch_all(&db.pool)
            .await?;
        rows.iter()
            .map(|r| r.try_get::<i64, _>(0))
            .collect::<std::result::Result<Vec<i64>, sqlx::Error>>()
    };
    let statuses =
        ids("SELECT id FROM statuses WHERE account_id = ? AND reblog_of_id IS NULL ORDER BY id")
            .await?;
    let reblogged = ids(
        "SELECT reblog_of_id FROM statuses WHERE account_id = ? AND reblog_of_id IS NOT NULL \
         ORDER BY reblog_of_id",
    )
    .await?;
    let favourited =
        ids("SELECT status_id FROM favourites WHERE account_id = ? ORDER BY status_id").await?;
    let mut follows = Vec::new();
    for table in ["follows", "follow_requests"] {
        let sql = format!(
            "SELECT account_id, target_id FROM {table} WHERE account_id = ? OR target_id = ?"
        );
        let sql = db.sql(&sql);
        for r in sqlx::query(&sql)
            .bind(account_id.to_string())
            .bind(account_id.to_string())
            .fetch_all(&db.pool)
            .await?
        {
            let follower = r.text("account_id")?;
            let mine = follower == account_id;
            follows.push((follower, r.text("target_id")?, mine));
        }
    }
    follows.sort();
    follows.dedup();
    Ok(Traces {
        statuses,
        reblogged,
        favourited,
        follows,
    })
}

/// A remote account by the id of its public key.
pub async fn by_key_id(db: &Db, key_id: &str) -> Result<Option<AccountRow>> {
    one(db, "key_id = ? AND domain IS NOT NULL", key_id).await
}

/// A remote account by its WebFinger address `user@domain` (any case).
pub async fn by_acct(db: &Db, user: &str, domain: &str) -> Result<Option<AccountRow>> {
    let key = remote_key(user, domain);
    one(db, "username_lower = ? AND domain IS NOT NULL", &key).await
}

/// The `username_lower` of a remote account: `user@domain`, lower-cased. Local names never
/// contain `@`, so the two kinds never clash in the unique index.
pub fn remote_key(user: &str, domain: &str) -> String {
    format!("{user}@{domain}").to_lowercase()
}

/// Local accounts whose name starts with `prefix`, then remote ones whose `user@domain` does,
/// active only, at most `limit`.
pub async fn search(db: &Db, prefix: &str, limit: i64) -> Result<Vec<AccountRow>> {
    let pattern = format!("{}%", prefix.to_lowercase().replace(['%', '_', '\\'], ""));
    let sql = format!(
        "SELECT {COLUMNS_WITH_STATS} FROM {WITH_STATS} WHERE username_lower LIKE ? \
         AND state = 'active' ORDER BY CASE WHEN domain IS NULL THEN 0 ELSE 1 END, \
         username_lower LIMIT ?"
    );
    let rows = sqlx::query(&db.sql(&sql))
        .bind(pattern)
        .bind(limit)
        .fetch_all(&db.pool)
        .await?;
    rows.iter().map(from_row_with_stats).collect()
}

/// Finds the account a login names: its email (as Mastodon) or its username.
pub async fn by_login(db: &Db, login: &str) -> Result<Option<AccountRow>> {
    let login = login.trim().to_lowercase();
    if login.contains('@') {
        one(db, "email_lower = ? AND domain IS NULL", &login).await
    } else {
        one(db, "username_lower = ? AND domain IS NULL", &login).await
    }
}

pub async fn email_taken(db: &Db, email: &str) -> Result<bool> {
    Ok(one(
        db,
        "email_lower = ? AND domain IS NULL",
        &email.to_lowercase(),
    )
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
    let mut conditions = vec!["domain IS NULL".to_string()];
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
        "SELECT {COLUMNS_WITH_STATS} FROM {WITH_STATS} WHERE {} \
         ORDER BY LENGTH(id) {order}, id {order} LIMIT ?",
        conditions.join(" AND ")
    );
    let sql = db.sql(&sql);
    let mut query = sqlx::query(&sql);
    for b in binds {
        query = query.bind(b);
    }
    let rows = query.bind(filter.limit).fetch_all(&db.pool).await?;
    let mut out = rows
        .iter()
        .map(from_row_with_stats)
        .collect::<Result<Vec<_>>>()?;
    if filter.min_id.is_some() {
        out.reverse();
    }
    Ok(out)
}

/// The usernames of the accounts that have no actor key yet (registered before keys existed).
pub async fn without_key(db: &Db) -> Result<Vec<String>> {
    let rows = sqlx::query(
        "SELECT username FROM accounts WHERE public_key_pem IS NULL AND domain IS NULL \
         ORDER BY id",
    )
    .fetch_all(&db.pool)
    .await?;
    Ok(rows
        .iter()
        .map(|r| r.text("username"))
        .collect::<Result<_, _>>()?)
}

pub async fn count_active(db: &Db) -> Result<i64> {
    let row =
        sqlx::query("SELECT COUNT(*) FROM accounts WHERE state = 'active' AND domain IS NULL")
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
        // A key is not a profile change: `updated_at` stays.
        E::KeyGenerated {
            public_pem,
            private_pem,
            ..
        } => {
            return row.map(|mut a| {
                a.public_key_pem = Some(public_pem.clone());
                a.private_key_pem = Some(private_pem.clone());
                a
            })
        }
        E::AccountApproved { at }
        | E::AccountUnsuspended { at }
        | E::AccountSuspended { at }
        | E::AccountDeleted { at }
        | E::ProfileUpdated { at, .. }
        | E::PasswordChanged { at, .. }
        | E::RoleChanged { at, .. } => *at,
    };
    let mut a = row?;
    match event {
        E::AccountApproved { .. } | E::AccountUnsuspended { .. } => a.state = "active".into(),
        E::AccountSuspended { .. } => a.state = "suspended".into(),
        // Kept (its key signs the `Delete` other servers are sent, its name stays taken) but
        // found by nothing that looks for active or suspended accounts.
        E::AccountDeleted { .. } => a.state = "deleted".into(),
        E::PasswordChanged { password_hash, .. } => a.password_hash = password_hash.clone(),
        E::RoleChanged { role, .. } => a.role = role.as_str().into(),
        E::ProfileUpdated { changes, .. } => apply_profile(&mut a, changes),
        E::AccountRegistered(_) | E::AccountRejected { .. } | E::KeyGenerated { .. } => {}
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
        public_key_pem: r.key.as_ref().map(|k| k.public_pem.clone()),
        private_key_pem: r.key.as_ref().map(|k| k.private_pem.clone()),
        stats: AccountStats::default(),
        remote: None,
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
const ROWS_PER_UPDATE: usize = 250;

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
    insert(tx, rows).await
}

/// Whether two versions of a local account's row agree on every indexed column.
fn same_keys(a: &AccountRow, b: &AccountRow) -> bool {
    a.remote.is_none()
        && b.remote.is_none()
        && a.id == b.id
        && a.username == b.username
        && a.email == b.email
        && a.state == b.state
}

/// The columns an account event changes on a local account whose keys and state stay.
const UPDATED: [&str; 15] = [
    "password_hash",
    "display_name",
    "note",
    "avatar_hash",
    "avatar_type",
    "header_hash",
    "header_type",
    "locked",
    "bot",
    "discoverable",
    "fields",
    "role",
    "updated_at",
    "public_key_pem",
    "private_key_pem",
];

/// Updates rows in place, `ROWS_PER_UPDATE` a statement (`UPDATE … FROM` a `VALUES` list, which
/// SQLite and PostgreSQL have; MySQL takes the delete-and-insert path).
async fn update(tx: &mut Tx<'_>, rows: &[AccountRow]) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_UPDATE) {
        let one = format!("({})", placeholders(UPDATED.len() + 1));
        let values = vec![one; chunk.len()].join(", ");
        let set = UPDATED
            .iter()
            .map(|c| format!("{c} = v.{c}"))
            .collect::<Vec<_>>()
            .join(", ");
        let sql = format!(
            "WITH v (id, {}) AS (VALUES {values}) UPDATE accounts SET {set} FROM v \
             WHERE accounts.id = v.id",
            UPDATED.join(", ")
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for a in chunk {
            let fields = serde_json::to_string(&a.fields).unwrap_or_else(|_| "[]".into());
            query = query
                .bind(a.id.clone())
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
                .bind(a.updated_at)
                .bind(a.public_key_pem.clone())
                .bind(a.private_key_pem.clone());
        }
        query.execute(&mut *tx.conn).await?;
    }
    Ok(())
}

async fn insert(tx: &mut Tx<'_>, rows: &[AccountRow]) -> Result<()> {
    for chunk in rows.chunks(ROWS_PER_INSERT) {
        let values = vec![format!("({})", placeholders(33)); chunk.len()].join(", ");
        let sql = format!(
            "INSERT INTO accounts (id, username, username_lower, email, email_lower, password_hash, \
             display_name, note, avatar_hash, avatar_type, header_hash, header_type, locked, bot, \
             discoverable, fields, role, state, locale, reason, created_at, updated_at, \
             public_key_pem, private_key_pem, domain, uri, url, inbox_url, shared_inbox_url, \
             key_id, avatar_remote_url, header_remote_url, followers_url) VALUES {values}"
        );
        let sql = tx.sql(&sql).into_owned();
        let mut query = sqlx::query(&sql);
        for a in chunk {
            let fields = serde_json::to_string(&a.fields).unwrap_or_else(|_| "[]".into());
            let remote = a.remote.as_ref();
            let username_lower = match remote {
                Some(r) => remote_key(&a.username, &r.domain),
                None => a.username.to_lowercase(),
            };
            query = query
                .bind(a.id.clone())
                .bind(a.username.clone())
                .bind(username_lower)
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
                .bind(a.updated_at)
                .bind(a.public_key_pem.clone())
                .bind(a.private_key_pem.clone())
                .bind(remote.map(|r| r.domain.clone()))
                .bind(remote.map(|r| r.uri.clone()))
                .bind(remote.and_then(|r| r.url.clone()))
                .bind(remote.map(|r| r.inbox_url.clone()))
                .bind(remote.and_then(|r| r.shared_inbox_url.clone()))
                .bind(remote.map(|r| r.key_id.clone()))
                .bind(remote.and_then(|r| r.avatar_url.clone()))
                .bind(remote.and_then(|r| r.header_url.clone()))
                .bind(remote.and_then(|r| r.followers_url.clone()));
        }
        query.execute(&mut *tx.conn).await?;
    }
    Ok(())
}

/// A remote account's row after one more of its events (`None`: no row yet and the event does
/// not make one).
pub fn fold_remote(row: Option<AccountRow>, event: &RemoteAccountEvent) -> Option<AccountRow> {
    match event {
        RemoteAccountEvent::RemoteAccountFetched { id, profile, at } => {
            Some(remote_row(id, profile, *at, *at))
        }
        RemoteAccountEvent::RemoteAccountRefreshed { profile, at } => {
            row.map(|r| remote_row(&r.id, profile, r.created_at, *at))
        }
        // Kept so what refers to it still finds a name, but no longer active: not shown, not
        // followable, and what it sends is ignored.
        RemoteAccountEvent::RemoteAccountDeleted { at } => row.map(|r| AccountRow {
            state: "deleted".into(),
            updated_at: *at,
            ..r
        }),
    }
}

fn remote_row(id: &str, p: &RemoteProfile, created_at: i64, at: i64) -> AccountRow {
    AccountRow {
        id: id.to_string(),
        username: p.username.clone(),
        email: String::new(),
        password_hash: String::new(),
        display_name: p.display_name.clone(),
        note: p.note_html.clone(),
        avatar: None,
        header: None,
        locked: p.locked,
        bot: p.bot,
        discoverable: true,
        fields: Vec::new(),
        role: "user".into(),
        state: "active".into(),
        locale: String::new(),
        reason: None,
        created_at,
        updated_at: at,
        public_key_pem: Some(p.public_key_pem.clone()),
        private_key_pem: None,
        stats: AccountStats::default(),
        remote: Some(RemoteRow {
            domain: p.domain.clone(),
            uri: p.uri.clone(),
            url: p.url.clone(),
            inbox_url: p.inbox.clone(),
            shared_inbox_url: p.shared_inbox.clone(),
            key_id: p.public_key_id.clone(),
            avatar_url: p.avatar_url.clone(),
            header_url: p.header_url.clone(),
            followers_url: p.followers.clone(),
        }),
    }
}

/// Applies one remote account event: the row is keyed by the actor URI (the aggregate id).
async fn apply_remote(tx: &mut Tx<'_>, uri: &str, event: &RemoteAccountEvent) -> Result<()> {
    let sql = format!("SELECT {COLUMNS} FROM accounts WHERE uri = ? AND domain IS NOT NULL");
    let sql = tx.sql(&sql).into_owned();
    let current = sqlx::query(&sql)
        .bind(uri.to_string())
        .fetch_optional(&mut *tx.conn)
        .await?
        .as_ref()
        .map(from_row)
        .transpose()?;
    let Some(row) = fold_remote(current, event) else {
        return Ok(());
    };
    let sql = tx.sql("DELETE FROM accounts WHERE id = ?").into_owned();
    sqlx::query(&sql)
        .bind(row.id.clone())
        .execute(&mut *tx.conn)
        .await?;
    // Another actor held this `user@domain` (a renamed or replaced account): the newest document
    // takes the address, the older row keeps a name of its own so the unique index holds.
    let key = remote_key(&row.username, row.remote.as_ref().map_or("", |r| &r.domain));
    let sql = tx
        .sql("SELECT id FROM accounts WHERE username_lower = ?")
        .into_owned();
    let holders = sqlx::query(&sql)
        .bind(key.clone())
        .fetch_all(&mut *tx.conn)
        .await?;
    for holder in holders {
        let id: String = holder.text("id")?;
        let sql = tx
            .sql("UPDATE accounts SET username_lower = ? WHERE id = ?")
            .into_owned();
        sqlx::query(&sql)
            .bind(format!("{key}#{id}"))
            .bind(id)
            .execute(&mut *tx.conn)
            .await?;
    }
    insert(tx, std::slice::from_ref(&row)).await
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

    async fn apply(&self, tx: &mut Tx<'_>, event: &Recorded) -> Result<()> {
        self.apply_batch(tx, std::slice::from_ref(event)).await
    }

    /// Loads the accounts the batch touches, folds their events in memory and writes the rows
    /// back: a few statements per batch instead of one per event.
    async fn apply_batch(&self, tx: &mut Tx<'_>, events: &[Recorded]) -> Result<()> {
        // Remote accounts touch rows no local event touches: their order against local events
        // does not matter, only among themselves.
        for r in events {
            if let DomainEvent::RemoteAccount(e) = &r.event {
                apply_remote(tx, &r.aggregate_id, e).await?;
            }
        }
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
        let before = load(tx, &keys).await?;
        let mut state: HashMap<&str, Option<AccountRow>> = keys
            .iter()
            .map(|k| (k.as_str(), before.get(k).cloned()))
            .collect();
        for (key, event) in mine {
            let current = state.get_mut(key).and_then(Option::take);
            state.insert(key, fold(current, event));
        }
        // Rows whose keys and state stay are updated in place: their indexes do not change,
        // and a delete and insert would rewrite all six of them (most of a replay's time).
        let mut updated = Vec::new();
        let mut replaced_keys = Vec::new();
        let mut replaced = Vec::new();
        for key in &keys {
            let old = before.get(key);
            let new = state.get(key.as_str()).and_then(Option::as_ref);
            match (old, new) {
                (Some(o), Some(n)) if o == n => {}
                (Some(o), Some(n)) if tx.backend != Backend::MySql && same_keys(o, n) => {
                    updated.push(n.clone())
                }
                _ => {
                    replaced_keys.push(key.clone());
                    replaced.extend(new.cloned());
                }
            }
        }
        update(tx, &updated).await?;
        store(tx, &replaced_keys, &replaced).await
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
            key: None,
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

    #[test]
    fn a_key_comes_with_the_registration_or_later_without_touching_the_profile_time() {
        let key = peerpx_aggregates::account::ActorKey {
            public_pem: "pub".into(),
            private_pem: "priv".into(),
        };
        let mut with_key = registration(true);
        with_key.key = Some(key);
        let row = fold_all(&[AccountEvent::AccountRegistered(with_key)]).expect("row");
        assert_eq!(
            (
                row.public_key_pem.as_deref(),
                row.private_key_pem.as_deref()
            ),
            (Some("pub"), Some("priv"))
        );
        let row = fold_all(&[AccountEvent::AccountRegistered(registration(true))]).expect("row");
        assert_eq!(row.public_key_pem, None);
        let row = fold_all(&[
            AccountEvent::AccountRegistered(registration(true)),
            AccountEvent::KeyGenerated {
                public_pem: "p2".into(),
                private_pem: "k2".into(),
                at: 50,
            },
        ])
        .expect("row");
        assert_eq!(
            (
                row.public_key_pem.as_deref(),
                row.private_key_pem.as_deref()
            ),
            (Some("p2"), Some("k2"))
        );
        assert_eq!(row.updated_at, 10);
    }
}

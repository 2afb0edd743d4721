//! Read models rendered as Mastodon entities (Account, CredentialAccount, Admin::Account).

use chrono::{DateTime, Utc};
use peerpx_projections::accounts::AccountRow;
use serde_json::{json, Value};

pub use peerpx_aggregates::text::{escape_html, iso, note_html, plain_text};

use crate::ApiConfig;

/// Mastodon shows an account's creation as the day, at midnight UTC.
fn day(millis: i64) -> String {
    let d = DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .date_naive();
    format!("{}T00:00:00.000Z", d.format("%Y-%m-%d"))
}

/// A day as Mastodon shows `last_status_at`: `YYYY-MM-DD` (UTC).
fn date(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .date_naive()
        .format("%Y-%m-%d")
        .to_string()
}

pub fn account(config: &ApiConfig, a: &AccountRow) -> Value {
    let base = config.base_url();
    let remote = a.remote.as_ref();
    let avatar = match (&a.avatar, remote.and_then(|r| r.avatar_url.clone())) {
        (Some(img), _) => crate::profile_images::url(config, img),
        (None, Some(url)) => url,
        (None, None) => format!("{base}/avatars/original/missing.png"),
    };
    let header = match (&a.header, remote.and_then(|r| r.header_url.clone())) {
        (Some(img), _) => crate::profile_images::url(config, img),
        (None, Some(url)) => url,
        (None, None) => format!("{base}/headers/original/missing.png"),
    };
    let fields: Vec<Value> = a
        .fields
        .iter()
        .map(|f| json!({ "name": f.name, "value": escape_html(&f.value), "verified_at": null }))
        .collect();
    let (acct, fqn, url, uri, note) = match remote {
        Some(r) => {
            let acct = format!("{}@{}", a.username, r.domain);
            (
                acct.clone(),
                acct,
                r.url.clone().unwrap_or_else(|| r.uri.clone()),
                r.uri.clone(),
                note_html(&plain_text(&a.note)),
            )
        }
        None => (
            a.username.clone(),
            format!("{}@{}", a.username, config.domain),
            format!("{base}/@{}", a.username),
            format!("{base}/users/{}", a.username),
            note_html(&a.note),
        ),
    };
    json!({
        "id": a.id,
        "username": a.username,
        "acct": acct,
        "display_name": a.display_name,
        "locked": a.locked,
        "bot": a.bot,
        "discoverable": a.discoverable,
        "indexable": a.discoverable,
        "group": false,
        "created_at": day(a.created_at),
        "note": note,
        "url": url,
        "uri": uri,
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": a.stats.followers_count,
        "following_count": a.stats.following_count,
        "statuses_count": a.stats.statuses_count,
        "last_status_at": a.stats.last_status_at.map(date),
        "hide_collections": false,
        "noindex": !a.discoverable,
        "emojis": [],
        "roles": [],
        "fields": fields,
        // peerpx extension: the account's global id.
        "fqn": fqn,
    })
}

fn role(a: &AccountRow) -> Value {
    let (id, name, permissions) = match a.role.as_str() {
        "admin" => ("3", "Admin", "1"),
        "moderator" => ("2", "Moderator", "1308"),
        _ => ("-99", "", "65536"),
    };
    json!({ "id": id, "name": name, "permissions": permissions, "color": "", "highlighted": a.is_staff() })
}

/// The account as its owner sees it (`verify_credentials`, `update_credentials`).
pub fn credential_account(config: &ApiConfig, a: &AccountRow) -> Value {
    let mut v = account(config, a);
    let fields: Vec<Value> = a
        .fields
        .iter()
        .map(|f| json!({ "name": f.name, "value": f.value, "verified_at": null }))
        .collect();
    v["source"] = json!({
        "privacy": "public",
        "sensitive": false,
        "language": a.locale,
        "note": a.note,
        "fields": fields,
        "follow_requests_count": a.stats.follow_requests_count,
        "discoverable": a.discoverable,
        "indexable": a.discoverable,
        "hide_collections": false,
    });
    v["role"] = role(a);
    v
}

pub fn admin_account(config: &ApiConfig, a: &AccountRow) -> Value {
    json!({
        "id": a.id,
        "username": a.username,
        "domain": null,
        "created_at": iso(a.created_at),
        "email": a.email,
        "ip": null,
        "ips": [],
        "locale": a.locale,
        "invite_request": a.reason,
        "role": role(a),
        "confirmed": true,
        "approved": a.state != "pending",
        "disabled": false,
        "sensitized": false,
        "silenced": false,
        "suspended": a.state == "suspended",
        "account": account(config, a),
        "created_by_application_id": null,
        "invited_by_account_id": null,
    })
}

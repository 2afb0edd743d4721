//! Read models rendered as Mastodon entities (Account, CredentialAccount, Admin::Account).

use chrono::{DateTime, SecondsFormat, Utc};
use peerpx_projections::accounts::AccountRow;
use serde_json::{json, Value};

use crate::ApiConfig;

pub fn iso(millis: i64) -> String {
    DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// Mastodon shows an account's creation as the day, at midnight UTC.
fn day(millis: i64) -> String {
    let d = DateTime::<Utc>::from_timestamp_millis(millis)
        .unwrap_or_default()
        .date_naive();
    format!("{}T00:00:00.000Z", d.format("%Y-%m-%d"))
}

pub fn escape_html(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// A plain-text bio as Mastodon's HTML: paragraphs on blank lines, `<br>` on single ones.
pub fn note_html(note: &str) -> String {
    if note.trim().is_empty() {
        return String::new();
    }
    note.split("\n\n")
        .map(|p| format!("<p>{}</p>", escape_html(p.trim()).replace('\n', "<br />")))
        .collect()
}

pub fn account(config: &ApiConfig, a: &AccountRow) -> Value {
    let base = config.base_url();
    let avatar = a.avatar.as_ref().map_or_else(
        || format!("{base}/avatars/original/missing.png"),
        |img| crate::media::url(config, img),
    );
    let header = a.header.as_ref().map_or_else(
        || format!("{base}/headers/original/missing.png"),
        |img| crate::media::url(config, img),
    );
    let fields: Vec<Value> = a
        .fields
        .iter()
        .map(|f| json!({ "name": f.name, "value": escape_html(&f.value), "verified_at": null }))
        .collect();
    json!({
        "id": a.id,
        "username": a.username,
        "acct": a.username,
        "display_name": a.display_name,
        "locked": a.locked,
        "bot": a.bot,
        "discoverable": a.discoverable,
        "indexable": a.discoverable,
        "group": false,
        "created_at": day(a.created_at),
        "note": note_html(&a.note),
        "url": format!("{base}/@{}", a.username),
        "uri": format!("{base}/users/{}", a.username),
        "avatar": avatar,
        "avatar_static": avatar,
        "header": header,
        "header_static": header,
        "followers_count": 0,
        "following_count": 0,
        "statuses_count": 0,
        "last_status_at": null,
        "hide_collections": false,
        "noindex": !a.discoverable,
        "emojis": [],
        "roles": [],
        "fields": fields,
        // peerpx extension: the account's global id.
        "fqn": format!("{}@{}", a.username, config.domain),
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
        "follow_requests_count": 0,
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

//! Notes received: `Create`, `Update` and `Delete` of notes, read by `crate::notes` and kept as
//! remote statuses when someone here follows the author, is mentioned or is replied to; and
//! notes fetched for an `Announce` or a search (`keep_fetched_note`), recorded the same way.

// The worker's outcome helpers and shared lookups.
use super::{applied, host, ignored, local_actor, Outcome};

use cqrs_es::AggregateError;
use peerpx_aggregates::status::{Content, Mention, Origin, Post, ReplyTo};
use peerpx_aggregates::{StatusCommand, Visibility};
use peerpx_projections::accounts::AccountRow;
use peerpx_projections::log::metadata;
use peerpx_projections::{now_millis, relationships, statuses};
use serde_json::Value;
use url::Url;

use crate::notes::{self, id_of, RemoteNote};
use crate::resolve::{self, authority};
use crate::signatures::{Signer, ACCEPT_ACTIVITY};
use crate::{Error, Federation, Result};
use peerpx_projections::new_id;

/// The note an activity carries: embedded, when its id is on the sender's own host (the
/// signature vouches for it), otherwise fetched from its origin.
pub(super) async fn note_of(
    state: &Federation,
    sender: &AccountRow,
    object: &Value,
) -> Result<Option<Value>> {
    let sender_host = sender.remote.as_ref().and_then(|r| host(&r.uri));
    let Some(id) = id_of(object) else {
        return Ok(None);
    };
    if object.is_object() && host(id).is_some() && host(id) == sender_host {
        return Ok(Some(object.clone()));
    }
    match crate::domain_blocks::get_json(state, id, ACCEPT_ACTIVITY, None).await {
        Ok(fetched) => {
            let claimed = fetched.json.get("id").and_then(Value::as_str).unwrap_or("");
            if host(claimed).is_none() || host(claimed) != authority(&fetched.url) {
                return Ok(None);
            }
            Ok(Some(fetched.json))
        }
        Err(e) => {
            tracing::info!(%id, error = %e, "could not fetch a remote object");
            Ok(None)
        }
    }
}

/// Mentions of our accounts in a remote note.
pub(super) async fn local_mentions(state: &Federation, note: &RemoteNote) -> Result<Vec<Mention>> {
    let mut out = Vec::new();
    for href in &note.mentions {
        if let Some(local) = local_actor(state, href).await? {
            out.push(Mention {
                account_id: local.id,
                username: local.username,
            });
        }
    }
    Ok(out)
}

pub(super) fn content_of(note: &RemoteNote, mentions: Vec<Mention>) -> Content {
    Content {
        text: note.text.clone(),
        html: note.html.clone(),
        spoiler_text: note.spoiler_text.clone(),
        sensitive: note.sensitive,
        language: note.language.clone(),
        tags: note.tags.clone(),
        mentions,
        media: Vec::new(),
        title: note.title.clone(),
        licence: note
            .licence
            .clone()
            .unwrap_or_else(|| peerpx_aggregates::status::DEFAULT_LICENCE.to_string()),
        allow_download: false,
        remote_media: note.media.clone(),
    }
}

pub(super) fn read(
    sender: &AccountRow,
    activity: &Value,
    object: &Value,
) -> Result<RemoteNote, String> {
    let followers = sender
        .remote
        .as_ref()
        .and_then(|r| r.followers_url.as_deref());
    let note = notes::read_note(object, Some(activity), followers)?;
    let sender_uri = sender.remote.as_ref().map_or("", |r| r.uri.as_str());
    if note.attributed_to != sender_uri {
        return Err(format!(
            "the note is by {}, not by its sender {sender_uri}",
            note.attributed_to
        ));
    }
    Ok(note)
}

pub(super) async fn create(
    state: &Federation,
    sender: &AccountRow,
    activity: &Value,
    object: &Value,
) -> Outcome {
    let Some(object) = note_of(state, sender, object).await? else {
        return ignored("the object could not be read");
    };
    let note = match read(sender, activity, &object) {
        Ok(n) => n,
        Err(why) => return ignored(why),
    };
    let base = state.config.base_url();
    if statuses::by_uri(&state.db, &base, &note.uri)
        .await?
        .is_some()
    {
        return ignored("the status is already here");
    }
    let parent = match &note.in_reply_to {
        Some(uri) => statuses::by_uri(&state.db, &base, uri).await?,
        None => None,
    };
    let mentions = local_mentions(state, &note).await?;
    let wanted = !mentions.is_empty()
        || parent.is_some()
        || relationships::has_local_follower(&state.db, &sender.id).await?;
    if !wanted {
        return ignored("nobody here follows the author, is mentioned or is replied to");
    }
    post_note(state, sender, &note, parent, mentions).await
}

/// Records `note`, read as `sender`'s (see [`read`]), as a new remote status replying to
/// `parent`: what a wanted `Create` does, and what search does with a note it resolved by URL.
pub(super) async fn post_note(
    state: &Federation,
    sender: &AccountRow,
    note: &RemoteNote,
    parent: Option<statuses::StatusRow>,
    mentions: Vec<Mention>,
) -> Outcome {
    // The inbox worker and a search resolving the same URL may both get here at once: one at a
    // time, and the second finds the first one's status. (One lock for the whole process: these
    // are short, and several nodes in one test process only wait a little for each other.)
    static RECORDING: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());
    let _one_at_a_time = RECORDING.lock().await;
    let base = state.config.base_url();
    if statuses::by_uri(&state.db, &base, &note.uri)
        .await?
        .is_some()
    {
        return ignored("the status is already here");
    }
    let id = new_id();
    let at = now_millis();
    let post = Post {
        id: id.clone(),
        account_id: sender.id.clone(),
        visibility: note.visibility,
        in_reply_to: parent.map(|p| ReplyTo {
            status_id: p.id.to_string(),
            account_id: p.account_id,
        }),
        content: content_of(note, mentions),
        // Shown in the order it was written, never in the future.
        at: note.published.map_or(at, |p| p.min(at)),
        remote: Some(Origin {
            uri: note.uri.clone(),
            url: note.url.clone(),
        }),
    };
    on_status(state, sender, &id, StatusCommand::Post(post)).await
}

/// Runs a command on a status for what `sender` sent; what the status refuses (a repeat, an
/// edit or delete of what is gone) changes nothing and is recorded as ignored.
pub(super) async fn on_status(
    state: &Federation,
    sender: &AccountRow,
    status_id: &str,
    command: StatusCommand,
) -> Outcome {
    match state
        .commands
        .status(status_id, command, metadata(Some(&sender.id), "inbox"))
        .await
    {
        Ok(position) => {
            state.settle(position).await;
            applied()
        }
        Err(AggregateError::UserError(e)) => ignored(e),
        Err(e) => Err(Error::internal(e)),
    }
}

pub(super) async fn update(
    state: &Federation,
    sender: &AccountRow,
    activity: &Value,
    object: &Value,
) -> Outcome {
    let sender_uri = sender.remote.as_ref().map_or("", |r| r.uri.as_str());
    if id_of(object) == Some(sender_uri) {
        // The sender's own profile, embedded: the signature vouches for it.
        let Some(from) = Url::parse(sender_uri).ok() else {
            return ignored("the sender's id is not a URL");
        };
        return match resolve::profile_of(object, &from) {
            Ok(profile) => {
                resolve::record(state, profile).await?;
                applied()
            }
            Err(e) => ignored(e),
        };
    }
    let Some(object) = note_of(state, sender, object).await? else {
        return ignored("the object could not be read");
    };
    let note = match read(sender, activity, &object) {
        Ok(n) => n,
        Err(why) => return ignored(why),
    };
    let base = state.config.base_url();
    let Some(existing) = statuses::by_uri(&state.db, &base, &note.uri).await? else {
        return ignored("the updated status is not here");
    };
    if existing.account_id != sender.id || existing.uri.is_none() {
        return ignored("the status is not the sender's");
    }
    let mentions = local_mentions(state, &note).await?;
    let command = StatusCommand::Edit {
        account_id: sender.id.clone(),
        content: content_of(&note, mentions),
        at: note.updated.unwrap_or_else(now_millis),
    };
    on_status(state, sender, &existing.id.to_string(), command).await
}

pub(super) async fn delete(state: &Federation, sender: &AccountRow, object: &Value) -> Outcome {
    let uri = id_of(object).unwrap_or_default();
    let sender_uri = sender.remote.as_ref().map_or("", |r| r.uri.as_str());
    if uri == sender_uri {
        return crate::departed::erase(state, sender).await;
    }
    let base = state.config.base_url();
    let Some(existing) = statuses::by_uri(&state.db, &base, uri).await? else {
        return ignored("the deleted status is not here");
    };
    if existing.account_id != sender.id || existing.uri.is_none() {
        return ignored("the status is not the sender's");
    }
    let command = StatusCommand::Delete {
        account_id: sender.id.clone(),
        as_moderator: false,
        at: now_millis(),
    };
    on_status(state, sender, &existing.id.to_string(), command).await
}

/// Fetches a remote status an Announce names, with its author, and keeps it (as a `Create`
/// would); what cannot be read is the reason it is not kept.
pub(super) async fn fetch_status(
    state: &Federation,
    sender: &AccountRow,
    object: &Value,
) -> Result<Result<statuses::StatusRow, String>> {
    // Only the note's own node vouches for it: fetch it from there, even when embedded.
    let Some(uri) = id_of(object) else {
        return Ok(Err("the Announce names no object".into()));
    };
    let by_id = Value::String(uri.to_string());
    let Some(fetched) = note_of(state, sender, &by_id).await? else {
        return Ok(Err("the announced status could not be fetched".into()));
    };
    if id_of(&fetched) != Some(uri) {
        return Ok(Err("the fetched status has another id".into()));
    }
    keep_fetched_note(state, &fetched, None, true).await
}

/// Keeps a note fetched from the host its id names (the caller checked that): its author, on
/// that same host, is resolved first (signed with `signer`), then the note is recorded as a
/// received `Create` records it. What an Announce or a search resolved ends here. Returns the
/// status, new or already here, or why the note is not kept (`public_only`: one that is neither
/// public nor unlisted).
pub async fn keep_fetched_note(
    state: &Federation,
    json: &Value,
    signer: Option<&Signer>,
    public_only: bool,
) -> Result<Result<statuses::StatusRow, String>> {
    let note = match notes::read_note(json, None, None) {
        Ok(n) => n,
        Err(why) => return Ok(Err(why)),
    };
    if public_only && !matches!(note.visibility, Visibility::Public | Visibility::Unlisted) {
        return Ok(Err("only public and unlisted statuses are reblogged".into()));
    }
    let base = state.config.base_url();
    if let Some(known) = statuses::by_uri(&state.db, &base, &note.uri).await? {
        return Ok(Ok(known));
    }
    // The note's host does not vouch for an author elsewhere.
    if host(&note.attributed_to) != host(&note.uri) {
        return Ok(Err(format!(
            "the note {} is by an account of another host ({})",
            note.uri, note.attributed_to
        )));
    }
    let author = match resolve::resolve_uri(state, &note.attributed_to, signer, false).await? {
        Ok(a) if a.remote.is_some() && a.state == "active" => a,
        Ok(_) => {
            return Ok(Err(
                "the note's author is not an active remote account".into()
            ))
        }
        Err(e) => return Ok(Err(format!("the note's author: {e}"))),
    };
    // Read again as the author's, now that its followers collection is known.
    let note = match read(&author, &Value::Null, json) {
        Ok(n) => n,
        Err(why) => return Ok(Err(why)),
    };
    let parent = match &note.in_reply_to {
        Some(uri) => statuses::by_uri(&state.db, &base, uri).await?,
        None => None,
    };
    let mentions = local_mentions(state, &note).await?;
    let outcome = post_note(state, &author, &note, parent, mentions).await?;
    Ok(statuses::by_uri(&state.db, &base, &note.uri)
        .await?
        .ok_or(outcome))
}

//! The projection's logic: what each event does to the index, over a [`View`] of its documents.
//!
//! Deterministic: the same events on the same documents give the same documents (no clock, no
//! randomness, no network). The view hides where documents live (committed segments, or the
//! batch not committed yet); this module only reads sources and puts or deletes them.
//!
//! - Accounts (local and remote) are documents of their own, and name the author of the
//!   statuses: a rename, a suspension or an unsuspension re-derives the author's statuses; an
//!   account's deletion (or a remote actor's) deletes them.
//! - An upload is a side document until the status it is attached to is posted: the status then
//!   takes its EXIF into its own source and the side document goes (an attached photo is never
//!   attached again, and its EXIF never changes).
//! - An edit replaces the whole status document; a deletion removes it. Reblogs are not indexed
//!   (Mastodon's search returns originals only), nor are any other events.

use peerpx_aggregates::status::{Content, Post};
use peerpx_aggregates::{AccountEvent, MediaEvent, RemoteAccountEvent, StatusEvent};
use peerpx_projections::recorded::DomainEvent;
use peerpx_projections::Recorded;

use crate::sources::{
    html_text, url_host, AccountSource, MediaSource, Photo, PhotoExif, StatusSource,
};
use crate::Result;

/// Whether a put creates a document or replaces one. A creation comes from an aggregate's first
/// event (cqrs-es gives sequence 1 once per aggregate id), so no document of that key can exist
/// and the delete that a replacement needs is skipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Create,
    Replace,
}

/// The documents as the projection sees them, uncommitted changes included.
pub trait View {
    fn account_by_key(&self, key: &str) -> Option<&AccountSource>;
    fn status(&mut self, id: &str) -> Result<Option<StatusSource>>;
    fn media(&mut self, id: &str) -> Result<Option<MediaSource>>;
    /// Every status of an author, in no particular order.
    fn statuses_of(&mut self, account_id: &str) -> Result<Vec<StatusSource>>;
    fn put_status(&mut self, status: StatusSource, put: Put) -> Result<()>;
    fn delete_status(&mut self, id: &str) -> Result<()>;
    fn put_media(&mut self, media: MediaSource, put: Put) -> Result<()>;
    fn delete_media(&mut self, id: &str) -> Result<()>;
    fn put_account(&mut self, account: AccountSource, put: Put) -> Result<()>;
    fn delete_account(&mut self, key: &str) -> Result<()>;
}

/// Applies one event.
pub fn apply(view: &mut impl View, recorded: &Recorded) -> Result<()> {
    let id = recorded.aggregate_id.as_str();
    match &recorded.event {
        DomainEvent::Account(e) => account(view, id, e),
        DomainEvent::RemoteAccount(e) => remote_account(view, id, e),
        DomainEvent::Media(e) => media(view, id, e),
        DomainEvent::Status(e) => status(view, id, e),
        _ => Ok(()),
    }
}

fn local_key(username: &str) -> String {
    format!("a:{username}")
}

fn remote_key(uri: &str) -> String {
    format!("r:{uri}")
}

/// Replaces an account's document and, when `statuses` says so, re-derives its statuses (which
/// carry the author's name, handle and state).
fn update_account(view: &mut impl View, account: AccountSource, statuses: bool) -> Result<()> {
    let account_id = account.id.clone();
    view.put_account(account, Put::Replace)?;
    if statuses {
        for s in view.statuses_of(&account_id)? {
            view.put_status(s, Put::Replace)?;
        }
    }
    Ok(())
}

/// Deletes an account's document and its statuses'.
fn remove_account(view: &mut impl View, key: &str) -> Result<()> {
    let Some(account_id) = view.account_by_key(key).map(|a| a.id.clone()) else {
        return Ok(());
    };
    for s in view.statuses_of(&account_id)? {
        view.delete_status(&s.id)?;
    }
    view.delete_account(key)
}

fn account(view: &mut impl View, username: &str, e: &AccountEvent) -> Result<()> {
    let key = local_key(username);
    if let AccountEvent::AccountRegistered(r) = e {
        let account = AccountSource {
            key,
            id: r.id.clone(),
            username: r.username.clone(),
            domain: None,
            display_name: String::new(),
            bio: String::new(),
            active: r.approved,
        };
        return view.put_account(account, Put::Create);
    }
    let Some(mut a) = view.account_by_key(&key).cloned() else {
        return Ok(());
    };
    match e {
        AccountEvent::AccountApproved { .. } => {
            a.active = true;
            update_account(view, a, false)
        }
        AccountEvent::AccountRejected { .. } | AccountEvent::AccountDeleted { .. } => {
            remove_account(view, &key)
        }
        AccountEvent::ProfileUpdated { changes, .. } => {
            let renamed = changes
                .display_name
                .as_ref()
                .is_some_and(|n| *n != a.display_name);
            if let Some(n) = &changes.display_name {
                a.display_name = n.clone();
            }
            if let Some(note) = &changes.note {
                a.bio = note.clone();
            }
            update_account(view, a, renamed)
        }
        AccountEvent::AccountSuspended { .. } | AccountEvent::AccountUnsuspended { .. } => {
            let active = matches!(e, AccountEvent::AccountUnsuspended { .. });
            let changed = a.active != active;
            a.active = active;
            update_account(view, a, changed)
        }
        _ => Ok(()),
    }
}

fn remote_account(view: &mut impl View, uri: &str, e: &RemoteAccountEvent) -> Result<()> {
    let key = remote_key(uri);
    match e {
        RemoteAccountEvent::RemoteAccountFetched { id, profile, .. } => {
            let account = AccountSource {
                key,
                id: id.clone(),
                username: profile.username.clone(),
                domain: Some(profile.domain.to_lowercase()),
                display_name: profile.display_name.clone(),
                bio: html_text(&profile.note_html),
                active: true,
            };
            view.put_account(account, Put::Create)
        }
        RemoteAccountEvent::RemoteAccountRefreshed { profile, .. } => {
            let Some(mut a) = view.account_by_key(&key).cloned() else {
                return Ok(());
            };
            let domain = Some(profile.domain.to_lowercase());
            let renamed = a.username != profile.username
                || a.domain != domain
                || a.display_name != profile.display_name;
            a.username = profile.username.clone();
            a.domain = domain;
            a.display_name = profile.display_name.clone();
            a.bio = html_text(&profile.note_html);
            update_account(view, a, renamed)
        }
        RemoteAccountEvent::RemoteAccountDeleted { .. } => remove_account(view, &key),
    }
}

fn media(view: &mut impl View, id: &str, e: &MediaEvent) -> Result<()> {
    match e {
        MediaEvent::MediaUploaded(u) => view.put_media(
            MediaSource {
                id: u.id.clone(),
                description: u.description.clone(),
                exif: PhotoExif::from_upload(&u.exif),
            },
            Put::Create,
        ),
        MediaEvent::MediaDescribed { description, .. } => match view.media(id)? {
            Some(mut m) => {
                m.description = description.clone();
                view.put_media(m, Put::Replace)
            }
            None => Ok(()),
        },
        MediaEvent::MediaAttached { .. } => Ok(()),
        MediaEvent::MediaDeleted { .. } => view.delete_media(id),
    }
}

/// The caption, tags, title and licence of a version.
fn set_content(s: &mut StatusSource, c: &Content) {
    s.text = c.text.clone();
    s.spoiler = c.spoiler_text.clone();
    s.language = c.language.clone();
    s.tags = c.tags.clone();
    s.title = c.title.clone();
    s.licence = c.licence.clone();
}

fn posted(view: &mut impl View, post: &Post) -> Result<()> {
    let photos = if post.remote.is_some() {
        post.content
            .remote_media
            .iter()
            .map(Photo::from_remote)
            .collect()
    } else {
        let mut photos = Vec::with_capacity(post.content.media.len());
        for m in &post.content.media {
            let exif = match view.media(&m.media_id)? {
                Some(upload) => {
                    // Consumed: an attached photo is never attached again.
                    view.delete_media(&m.media_id)?;
                    upload.exif
                }
                None => PhotoExif::default(),
            };
            photos.push(Photo {
                media_id: Some(m.media_id.clone()),
                description: m.description.clone(),
                exif,
            });
        }
        photos
    };
    let mut s = StatusSource {
        id: post.id.clone(),
        account_id: post.account_id.clone(),
        visibility: post.visibility.as_str().to_string(),
        reply: post.in_reply_to.is_some(),
        at: post.at,
        host: post.remote.as_ref().and_then(|o| url_host(&o.uri)),
        photos,
        ..StatusSource::default()
    };
    set_content(&mut s, &post.content);
    view.put_status(s, Put::Create)
}

/// A new version: the text is replaced; a local status keeps its photos (only their
/// descriptions change), a remote one takes the photos its node now describes.
fn edited(view: &mut impl View, id: &str, content: &Content) -> Result<()> {
    let Some(mut s) = view.status(id)? else {
        return Ok(());
    };
    set_content(&mut s, content);
    if s.host.is_some() {
        s.photos = content
            .remote_media
            .iter()
            .map(Photo::from_remote)
            .collect();
    } else {
        for p in &mut s.photos {
            if let Some(m) = content
                .media
                .iter()
                .find(|m| Some(&m.media_id) == p.media_id.as_ref())
            {
                p.description = m.description.clone();
            }
        }
    }
    view.put_status(s, Put::Replace)
}

fn status(view: &mut impl View, id: &str, e: &StatusEvent) -> Result<()> {
    match e {
        StatusEvent::StatusPosted(post) => posted(view, post),
        StatusEvent::StatusEdited { content, .. } => edited(view, id, content),
        StatusEvent::StatusDeleted { .. } => view.delete_status(id),
    }
}

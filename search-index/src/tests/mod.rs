//! Given events → index → query → expected ids. Builders below make the events read like the
//! story they tell.

mod durability;
mod lifecycle;
mod operators;
mod parse;
mod ranking;

use std::collections::HashMap;

use cqrs_es::persist::SerializedEvent;
use peerpx_aggregates::account::Registration;
use peerpx_aggregates::media::{Exif, StoredFile, Upload};
use peerpx_aggregates::status::{Content, MediaText, Origin, Post, RemoteMedia};
use peerpx_aggregates::{
    AccountEvent, MediaEvent, ProfileChanges, RemoteAccountEvent, RemoteProfile, Role, StatusEvent,
    Visibility,
};
use peerpx_projections::recorded::DomainEvent;
use peerpx_projections::Recorded;

use crate::{parse, Scope, SearchIndex, Window};

pub type TestResult = std::result::Result<(), Box<dyn std::error::Error + Send + Sync>>;

/// 2024-06-01T00:00:00Z.
pub const JUNE_2024: i64 = 1_717_200_000_000;

/// A log being written: positions and per-aggregate sequences as the event log gives them.
#[derive(Default)]
pub struct Story {
    pub events: Vec<Recorded>,
    sequences: HashMap<String, i64>,
}

fn file() -> StoredFile {
    StoredFile {
        cid: "bafy".into(),
        content_type: "image/jpeg".into(),
        bytes: 1,
        width: 1,
        height: 1,
    }
}

pub fn exif(camera_make: &str, camera_model: &str, lens: &str, taken_at: &str) -> Exif {
    let some = |s: &str| (!s.is_empty()).then(|| s.to_string());
    Exif {
        camera_make: some(camera_make),
        camera_model: some(camera_model),
        lens_model: some(lens),
        f_number: Some(2.8),
        iso: Some(400),
        focal_length_mm: Some(35.0),
        taken_at: some(taken_at),
        ..Exif::default()
    }
}

impl Story {
    fn push(&mut self, kind: &str, aggregate_id: &str, event: DomainEvent) -> &mut Self {
        let seq = self
            .sequences
            .entry(format!("{kind}/{aggregate_id}"))
            .or_default();
        *seq += 1;
        let position = self.events.len() as i64 + 1;
        self.events.push(Recorded {
            position,
            aggregate_id: aggregate_id.to_string(),
            sequence: *seq,
            event,
        });
        self
    }

    /// A local account, approved at once; its id is `id`.
    pub fn account(&mut self, username: &str, id: &str) -> &mut Self {
        let e = AccountEvent::AccountRegistered(Registration {
            id: id.into(),
            username: username.into(),
            email: format!("{username}@example.org"),
            password_hash: "x".into(),
            locale: "en".into(),
            reason: None,
            role: Role::User,
            approved: true,
            at: JUNE_2024,
            key: None,
        });
        self.push("account", &username.to_lowercase(), DomainEvent::Account(e))
    }

    pub fn account_event(&mut self, username: &str, e: AccountEvent) -> &mut Self {
        self.push("account", username, DomainEvent::Account(e))
    }

    pub fn rename(&mut self, username: &str, display_name: &str) -> &mut Self {
        let changes = ProfileChanges {
            display_name: Some(display_name.into()),
            ..ProfileChanges::default()
        };
        self.account_event(username, AccountEvent::ProfileUpdated { changes, at: 1 })
    }

    pub fn remote_account(&mut self, username: &str, domain: &str, id: &str) -> &mut Self {
        let uri = format!("https://{domain}/users/{username}");
        let e = RemoteAccountEvent::RemoteAccountFetched {
            id: id.into(),
            profile: remote_profile(username, domain, "Remote Person"),
            at: JUNE_2024,
        };
        self.push("remote_account", &uri, DomainEvent::RemoteAccount(e))
    }

    pub fn remote_event(&mut self, uri: &str, e: RemoteAccountEvent) -> &mut Self {
        self.push("remote_account", uri, DomainEvent::RemoteAccount(e))
    }

    pub fn upload(&mut self, media_id: &str, account_id: &str, exif: Exif) -> &mut Self {
        let e = MediaEvent::MediaUploaded(Box::new(Upload {
            id: media_id.into(),
            account_id: account_id.into(),
            original: file(),
            small: file(),
            large: file(),
            blurhash: "L".into(),
            exif,
            description: None,
            focus: None,
            at: JUNE_2024,
        }));
        self.push("media", media_id, DomainEvent::Media(e))
    }

    pub fn media_event(&mut self, media_id: &str, e: MediaEvent) -> &mut Self {
        self.push("media", media_id, DomainEvent::Media(e))
    }

    /// A public post by `account_id` at `at`; `shape` changes anything else.
    pub fn post_with(
        &mut self,
        id: &str,
        account_id: &str,
        text: &str,
        shape: impl FnOnce(&mut Post),
    ) -> &mut Self {
        let mut post = Post {
            id: id.into(),
            account_id: account_id.into(),
            visibility: Visibility::Public,
            in_reply_to: None,
            content: content(text),
            at: JUNE_2024,
            remote: None,
        };
        shape(&mut post);
        self.push(
            "status",
            id,
            DomainEvent::Status(StatusEvent::StatusPosted(post)),
        )
    }

    pub fn post(&mut self, id: &str, account_id: &str, text: &str) -> &mut Self {
        self.post_with(id, account_id, text, |_| {})
    }

    /// A post with our uploads attached (each attached first, as the API does).
    pub fn photo_post(
        &mut self,
        id: &str,
        account_id: &str,
        text: &str,
        media: &[&str],
    ) -> &mut Self {
        for m in media {
            let e = MediaEvent::MediaAttached {
                status_id: id.into(),
                at: JUNE_2024,
            };
            self.media_event(m, e);
        }
        self.post_with(id, account_id, text, |p| {
            p.content.media = media
                .iter()
                .map(|m| MediaText {
                    media_id: m.to_string(),
                    description: Some(format!("photo {m}")),
                })
                .collect();
        })
    }

    pub fn remote_post(
        &mut self,
        id: &str,
        account_id: &str,
        domain: &str,
        text: &str,
        media: Vec<RemoteMedia>,
    ) -> &mut Self {
        self.post_with(id, account_id, text, |p| {
            p.remote = Some(Origin {
                uri: format!("https://{domain}/notes/{id}"),
                url: None,
            });
            p.content.remote_media = media;
        })
    }

    pub fn edit(&mut self, id: &str, account_id: &str, text: &str) -> &mut Self {
        let e = StatusEvent::StatusEdited {
            account_id: account_id.into(),
            content: content(text),
            at: JUNE_2024 + 1,
        };
        self.push("status", id, DomainEvent::Status(e))
    }

    pub fn delete(&mut self, id: &str, account_id: &str) -> &mut Self {
        let e = StatusEvent::StatusDeleted {
            account_id: account_id.into(),
            at: JUNE_2024 + 2,
        };
        self.push("status", id, DomainEvent::Status(e))
    }

    /// The events as the event log stores them.
    pub fn serialized(&self) -> Vec<SerializedEvent> {
        self.events.iter().map(serialize).collect()
    }
}

pub fn remote_profile(username: &str, domain: &str, display_name: &str) -> RemoteProfile {
    let uri = format!("https://{domain}/users/{username}");
    RemoteProfile {
        uri: uri.clone(),
        username: username.into(),
        domain: domain.into(),
        display_name: display_name.into(),
        note_html: "<p>Film &amp; street</p>".into(),
        avatar_url: None,
        header_url: None,
        url: None,
        locked: false,
        bot: false,
        inbox: format!("{uri}/inbox"),
        shared_inbox: None,
        followers: None,
        following: None,
        public_key_id: format!("{uri}#main-key"),
        public_key_pem: "pem".into(),
    }
}

pub fn content(text: &str) -> Content {
    Content {
        text: text.into(),
        html: format!("<p>{text}</p>"),
        tags: peerpx_aggregates::status::extract_tags(text),
        licence: "all-rights-reserved".into(),
        ..Content::default()
    }
}

fn serialize(r: &Recorded) -> SerializedEvent {
    use cqrs_es::DomainEvent as _;
    let (kind, event_type, version, payload) = match &r.event {
        DomainEvent::Account(e) => (
            "account",
            e.event_type(),
            e.event_version(),
            serde_json::to_value(e),
        ),
        DomainEvent::RemoteAccount(e) => (
            "remote_account",
            e.event_type(),
            e.event_version(),
            serde_json::to_value(e),
        ),
        DomainEvent::Media(e) => (
            "media",
            e.event_type(),
            e.event_version(),
            serde_json::to_value(e),
        ),
        DomainEvent::Status(e) => (
            "status",
            e.event_type(),
            e.event_version(),
            serde_json::to_value(e),
        ),
        other => panic!("no serializer for {other:?} in these tests"),
    };
    SerializedEvent::new(
        r.aggregate_id.clone(),
        r.sequence as usize,
        kind.to_string(),
        event_type,
        version,
        payload.unwrap_or_default(),
        serde_json::json!({}),
    )
}

/// An in-RAM index with the story applied and committed.
pub fn indexed(story: &Story) -> crate::Result<SearchIndex> {
    let mut index = SearchIndex::in_ram()?;
    index.apply(&story.events)?;
    index.commit()?;
    Ok(index)
}

/// Ids found for `q` (every scope, first 100).
pub fn ids(index: &SearchIndex, q: &str) -> crate::Result<Vec<u64>> {
    let query = parse(q)?;
    index
        .reader()
        .snapshot()
        .statuses(&query, Scope::All, &Window::first(100))
}

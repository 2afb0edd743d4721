//! Statuses: photo posts and comments (a comment is a status in reply to another), their edits
//! with history, and their deletion.
//!
//! The aggregate id is the status id. The API renders the caption's HTML, finds hashtags and
//! mentions and checks that media belong to the author before it sends `Post`; the aggregate
//! keeps the rules that need only the status itself.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::Millis;

/// Longest caption or comment, in characters (also reported by `/api/v2/instance`).
pub const TEXT_MAX: usize = 2000;
/// Most photos on one post (also reported by `/api/v2/instance`).
pub const MEDIA_MAX: usize = 10;
pub const TITLE_MAX: usize = 200;
pub const SPOILER_MAX: usize = 500;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    Public,
    Unlisted,
    /// Followers only.
    Private,
    /// Mentioned people only.
    Direct,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Public => "public",
            Self::Unlisted => "unlisted",
            Self::Private => "private",
            Self::Direct => "direct",
        }
    }
}

impl std::str::FromStr for Visibility {
    type Err = ();
    fn from_str(s: &str) -> Result<Self, ()> {
        Ok(match s {
            "public" => Self::Public,
            "unlisted" => Self::Unlisted,
            "private" => Self::Private,
            "direct" => Self::Direct,
            _ => return Err(()),
        })
    }
}

/// The licences a photographer can choose: all rights reserved, or a Creative Commons 4.0 licence
/// (or the CC0 dedication).
pub const LICENCES: &[(&str, &str, Option<&str>)] = &[
    ("all-rights-reserved", "All rights reserved", None),
    (
        "cc0",
        "CC0 1.0 Public Domain Dedication",
        Some("https://creativecommons.org/publicdomain/zero/1.0/"),
    ),
    (
        "cc-by",
        "Creative Commons Attribution 4.0",
        Some("https://creativecommons.org/licenses/by/4.0/"),
    ),
    (
        "cc-by-sa",
        "Creative Commons Attribution-ShareAlike 4.0",
        Some("https://creativecommons.org/licenses/by-sa/4.0/"),
    ),
    (
        "cc-by-nd",
        "Creative Commons Attribution-NoDerivatives 4.0",
        Some("https://creativecommons.org/licenses/by-nd/4.0/"),
    ),
    (
        "cc-by-nc",
        "Creative Commons Attribution-NonCommercial 4.0",
        Some("https://creativecommons.org/licenses/by-nc/4.0/"),
    ),
    (
        "cc-by-nc-sa",
        "Creative Commons Attribution-NonCommercial-ShareAlike 4.0",
        Some("https://creativecommons.org/licenses/by-nc-sa/4.0/"),
    ),
    (
        "cc-by-nc-nd",
        "Creative Commons Attribution-NonCommercial-NoDerivatives 4.0",
        Some("https://creativecommons.org/licenses/by-nc-nd/4.0/"),
    ),
];

pub const DEFAULT_LICENCE: &str = "all-rights-reserved";

pub fn valid_licence(id: &str) -> bool {
    LICENCES.iter().any(|(l, _, _)| *l == id)
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Mention {
    pub account_id: String,
    pub username: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReplyTo {
    pub status_id: String,
    pub account_id: String,
}

/// An attached photo and its alt text at the time of a version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MediaText {
    pub media_id: String,
    pub description: Option<String>,
}

/// What a version of a status says; both posting and editing carry a whole one.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct Content {
    /// The text as written (Mastodon's `source`).
    pub text: String,
    /// The text as HTML with links for tags and mentions.
    pub html: String,
    pub spoiler_text: String,
    pub sensitive: bool,
    pub language: Option<String>,
    /// Lower-cased hashtags without `#`, in order of appearance, no duplicates.
    pub tags: Vec<String>,
    pub mentions: Vec<Mention>,
    pub media: Vec<MediaText>,
    /// Photo extension: a title.
    pub title: Option<String>,
    /// Photo extension: one of `LICENCES`.
    pub licence: String,
    /// Photo extension: whether others may download the original.
    pub allow_download: bool,
    /// The photos of a status received from another node: they stay on that node.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remote_media: Vec<RemoteMedia>,
}

/// A photo of a remote status, as its node describes it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RemoteMedia {
    pub url: String,
    pub media_type: Option<String>,
    pub description: Option<String>,
    pub blurhash: Option<String>,
    pub width: Option<i64>,
    pub height: Option<i64>,
    pub focus: Option<(f64, f64)>,
    /// The CIDs a peerpx node gives (`original`, `small`, `large`), when it gives them.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cid: Option<serde_json::Value>,
    /// What the camera recorded, as the remote node shows it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exif: Option<serde_json::Value>,
}

/// Where a status received from another node lives: its ActivityPub id and its page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    pub uri: String,
    pub url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Post {
    pub id: String,
    pub account_id: String,
    pub visibility: Visibility,
    pub in_reply_to: Option<ReplyTo>,
    pub content: Content,
    pub at: Millis,
    /// Set for a status received from another node (its author is a remote account).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub remote: Option<Origin>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum StatusCommand {
    Post(Post),
    Edit {
        account_id: String,
        content: Content,
        at: Millis,
    },
    Delete {
        account_id: String,
        /// Moderators may delete others' statuses.
        as_moderator: bool,
        at: Millis,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum StatusEvent {
    StatusPosted(Post),
    StatusEdited {
        account_id: String,
        content: Content,
        at: Millis,
    },
    StatusDeleted {
        account_id: String,
        at: Millis,
    },
}

impl DomainEvent for StatusEvent {
    fn event_type(&self) -> String {
        match self {
            Self::StatusPosted(_) => "StatusPosted",
            Self::StatusEdited { .. } => "StatusEdited",
            Self::StatusDeleted { .. } => "StatusDeleted",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum StatusError {
    #[error("this status already exists")]
    AlreadyPosted,
    #[error("Record not found")]
    NotFound,
    #[error("Text can't be blank")]
    Empty,
    #[error("{field} is too long (at most {max} characters)")]
    TooLong { field: &'static str, max: usize },
    #[error("at most {MEDIA_MAX} media can be attached")]
    TooManyMedia,
    #[error("the same media is attached twice")]
    DuplicateMedia,
    #[error("unknown licence {0:?}")]
    UnknownLicence(String),
    #[error("the photos of a post cannot be replaced by an edit, only their descriptions")]
    MediaChanged,
}

impl StatusError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::AlreadyPosted => "already_posted",
            Self::NotFound => "not_found",
            Self::Empty => "blank",
            Self::TooLong { .. } => "too_long",
            Self::TooManyMedia => "too_many_media",
            Self::DuplicateMedia => "duplicate_media",
            Self::UnknownLicence(_) => "unknown_licence",
            Self::MediaChanged => "media_changed",
        }
    }
}

fn too_long(field: &'static str, value: &str, max: usize) -> Result<(), StatusError> {
    if value.chars().count() > max {
        Err(StatusError::TooLong { field, max })
    } else {
        Ok(())
    }
}

/// The rules every version of a status follows; the API checks them before it attaches media.
pub fn check_content(content: &Content) -> Result<(), StatusError> {
    if content.text.trim().is_empty() && content.media.is_empty() {
        return Err(StatusError::Empty);
    }
    too_long("text", &content.text, TEXT_MAX)?;
    too_long("spoiler_text", &content.spoiler_text, SPOILER_MAX)?;
    if let Some(title) = &content.title {
        too_long("title", title, TITLE_MAX)?;
    }
    if content.media.len() > MEDIA_MAX {
        return Err(StatusError::TooManyMedia);
    }
    let mut ids: Vec<&str> = content.media.iter().map(|m| m.media_id.as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    if ids.len() != content.media.len() {
        return Err(StatusError::DuplicateMedia);
    }
    for m in &content.media {
        if let Some(d) = &m.description {
            too_long("description", d, crate::media::DESCRIPTION_MAX)?;
        }
    }
    if !valid_licence(&content.licence) {
        return Err(StatusError::UnknownLicence(content.licence.clone()));
    }
    Ok(())
}

/// The one rule for a status received from another node: it says something.
pub fn check_remote(content: &Content) -> Result<(), StatusError> {
    if content.html.trim().is_empty() && content.remote_media.is_empty() {
        return Err(StatusError::Empty);
    }
    if content.remote_media.len() > REMOTE_MEDIA_MAX {
        return Err(StatusError::TooManyMedia);
    }
    Ok(())
}

/// Most photos kept of a remote status.
pub const REMOTE_MEDIA_MAX: usize = 20;

fn word_char(c: char) -> bool {
    c.is_alphanumeric() || c == '_'
}

/// Hashtags in a text, lower-cased, without `#`, in order of first appearance. A tag starts after
/// the start of the text or a character that is not a letter, digit, `_`, `&` or `/` (so URLs and
/// HTML entities are not tags), and has at least one letter or `_`.
pub fn extract_tags(text: &str) -> Vec<String> {
    let mut tags: Vec<String> = Vec::new();
    for (start, len) in marked_words(text, '#', |c| c == '&' || c == '/') {
        let tag = &text[start..start + len];
        if tag.chars().any(|c| !c.is_numeric()) {
            let tag = tag.to_lowercase();
            if !tags.contains(&tag) {
                tags.push(tag);
            }
        }
    }
    tags
}

/// `@name` or `@name@domain` mentions in a text, as written, in order of first appearance.
pub fn extract_mentions(text: &str) -> Vec<(String, Option<String>)> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for (start, len) in marked_words(text, '@', |c| c == '/' || c == '.') {
        let username = text[start..start + len].to_string();
        let rest = &text[start + len..];
        let domain = rest.strip_prefix('@').and_then(|r| {
            let end = r
                .find(|c: char| !(c.is_alphanumeric() || matches!(c, '.' | '-' | ':' | '_')))
                .unwrap_or(r.len());
            let d = r[..end].trim_end_matches(['.', ':']);
            (!d.is_empty()).then(|| d.to_lowercase())
        });
        let mention = (username, domain);
        if !out.contains(&mention) {
            out.push(mention);
        }
    }
    out
}

/// Byte ranges of the words that follow `mark` where `mark` does not follow a word character or a
/// character `excluded_before` accepts.
fn marked_words(
    text: &str,
    mark: char,
    excluded_before: impl Fn(char) -> bool,
) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut previous: Option<char> = None;
    for (i, c) in text.char_indices() {
        if c == mark && !previous.is_some_and(|p| word_char(p) || p == mark || excluded_before(p)) {
            let start = i + c.len_utf8();
            let len: usize = text[start..]
                .chars()
                .take_while(|c| word_char(*c))
                .map(char::len_utf8)
                .sum();
            if len > 0 {
                out.push((start, len));
            }
        }
        previous = Some(c);
    }
    out
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Status {
    pub account_id: Option<String>,
    pub media: Vec<String>,
    pub deleted: bool,
    /// Received from another node.
    #[serde(default)]
    pub remote: bool,
}

impl Aggregate for Status {
    const TYPE: &'static str = "status";
    type Command = StatusCommand;
    type Event = StatusEvent;
    type Error = StatusError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        use StatusCommand as C;
        use StatusEvent as E;
        let event = match command {
            C::Post(post) => {
                if self.account_id.is_some() {
                    return Err(StatusError::AlreadyPosted);
                }
                // Local authoring rules do not bind what other nodes allowed their users.
                match &post.remote {
                    None => check_content(&post.content)?,
                    Some(_) => check_remote(&post.content)?,
                }
                E::StatusPosted(post)
            }
            C::Edit {
                account_id,
                content,
                at,
            } => {
                if self.deleted || self.account_id.as_deref() != Some(account_id.as_str()) {
                    return Err(StatusError::NotFound);
                }
                if self.remote {
                    check_remote(&content)?;
                } else {
                    check_content(&content)?;
                }
                let same_media = content.media.len() == self.media.len()
                    && content
                        .media
                        .iter()
                        .zip(&self.media)
                        .all(|(m, id)| m.media_id == *id);
                if !same_media {
                    return Err(StatusError::MediaChanged);
                }
                E::StatusEdited {
                    account_id,
                    content,
                    at,
                }
            }
            C::Delete {
                account_id,
                as_moderator,
                at,
            } => {
                let Some(author) = &self.account_id else {
                    return Err(StatusError::NotFound);
                };
                if self.deleted || (*author != account_id && !as_moderator) {
                    return Err(StatusError::NotFound);
                }
                E::StatusDeleted {
                    account_id: author.clone(),
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            StatusEvent::StatusPosted(post) => {
                self.account_id = Some(post.account_id);
                self.remote = post.remote.is_some();
                self.media = post.content.media.into_iter().map(|m| m.media_id).collect();
            }
            StatusEvent::StatusEdited { .. } => {}
            StatusEvent::StatusDeleted { .. } => self.deleted = true,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use StatusCommand as C;
    use StatusEvent as E;

    fn status() -> TestFramework<Status> {
        TestFramework::with(())
    }

    fn content(text: &str) -> Content {
        Content {
            text: text.into(),
            html: format!("<p>{text}</p>"),
            licence: DEFAULT_LICENCE.into(),
            media: vec![MediaText {
                media_id: "m1".into(),
                description: Some("a cat".into()),
            }],
            ..Content::default()
        }
    }

    fn post() -> Post {
        Post {
            id: "9".into(),
            account_id: "1".into(),
            visibility: Visibility::Public,
            in_reply_to: None,
            content: content("hello #cats"),
            at: 1,
            remote: None,
        }
    }

    fn remote_post(text: &str) -> Post {
        let mut p = post();
        p.content.html = format!("<p>{text}</p>");
        p.content.text = text.into();
        p.remote = Some(Origin {
            uri: "https://pix.example/p/ana/42".into(),
            url: None,
        });
        p
    }

    #[test]
    fn a_remote_status_follows_its_own_node_s_length_rules_but_must_say_something() {
        let long = "a".repeat(TEXT_MAX + 500);
        status()
            .given_no_previous_events()
            .when(C::Post(remote_post(&long)))
            .then_expect_events(vec![E::StatusPosted(remote_post(&long))]);
        let mut empty = remote_post("");
        empty.content.html.clear();
        status()
            .given_no_previous_events()
            .when(C::Post(empty))
            .then_expect_error(StatusError::Empty);
        // Its edits are read by the same rule.
        let mut edited = remote_post(&long).content;
        edited.html.push_str("<p>edited</p>");
        status()
            .given(vec![E::StatusPosted(remote_post("first"))])
            .when(C::Edit {
                account_id: "1".into(),
                content: edited.clone(),
                at: 2,
            })
            .then_expect_events(vec![E::StatusEdited {
                account_id: "1".into(),
                content: edited,
                at: 2,
            }]);
    }

    #[test]
    fn tags_and_mentions_are_found_where_people_write_them() {
        assert_eq!(
            extract_tags(
                "Sunset #Paris #sunset, #paris again #2024 #été_2024 http://x.org/#frag &#39;"
            ),
            vec!["paris", "sunset", "été_2024"]
        );
        assert_eq!(
            extract_mentions("hi @ana and @ben@Other.Example. mail: x@y.org @ana"),
            vec![
                ("ana".to_string(), None),
                ("ben".to_string(), Some("other.example".to_string()))
            ]
        );
    }

    #[test]
    fn a_post_is_checked_and_recorded_once() {
        status()
            .given_no_previous_events()
            .when(C::Post(post()))
            .then_expect_events(vec![E::StatusPosted(post())]);
        status()
            .given(vec![E::StatusPosted(post())])
            .when(C::Post(post()))
            .then_expect_error(StatusError::AlreadyPosted);
        let mut blank = post();
        blank.content.text = "  ".into();
        blank.content.media.clear();
        status()
            .given_no_previous_events()
            .when(C::Post(blank))
            .then_expect_error(StatusError::Empty);
        let mut bad_licence = post();
        bad_licence.content.licence = "gpl".into();
        status()
            .given_no_previous_events()
            .when(C::Post(bad_licence))
            .then_expect_error(StatusError::UnknownLicence("gpl".into()));
        let mut twice = post();
        twice.content.media.push(twice.content.media[0].clone());
        status()
            .given_no_previous_events()
            .when(C::Post(twice))
            .then_expect_error(StatusError::DuplicateMedia);
    }

    #[test]
    fn only_the_author_edits_and_the_photos_stay() {
        let edit = |account: &str, content: Content| C::Edit {
            account_id: account.into(),
            content,
            at: 2,
        };
        status()
            .given(vec![E::StatusPosted(post())])
            .when(edit("2", content("mine now")))
            .then_expect_error(StatusError::NotFound);
        status()
            .given(vec![E::StatusPosted(post())])
            .when(edit("1", content("better caption")))
            .then_expect_events(vec![E::StatusEdited {
                account_id: "1".into(),
                content: content("better caption"),
                at: 2,
            }]);
        let mut swapped = content("other photo");
        swapped.media[0].media_id = "m2".into();
        status()
            .given(vec![E::StatusPosted(post())])
            .when(edit("1", swapped))
            .then_expect_error(StatusError::MediaChanged);
    }

    #[test]
    fn the_author_or_a_moderator_deletes_once() {
        let delete = |account: &str, as_moderator| C::Delete {
            account_id: account.into(),
            as_moderator,
            at: 3,
        };
        status()
            .given(vec![E::StatusPosted(post())])
            .when(delete("2", false))
            .then_expect_error(StatusError::NotFound);
        status()
            .given(vec![E::StatusPosted(post())])
            .when(delete("2", true))
            .then_expect_events(vec![E::StatusDeleted {
                account_id: "1".into(),
                at: 3,
            }]);
        status()
            .given(vec![
                E::StatusPosted(post()),
                E::StatusDeleted {
                    account_id: "1".into(),
                    at: 3,
                },
            ])
            .when(delete("1", false))
            .then_expect_error(StatusError::NotFound);
    }
}

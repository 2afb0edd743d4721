//! Media: an uploaded photo (original and renditions in the block store), its alt text and focal
//! point, and the one status it gets attached to.
//!
//! The aggregate id is the media id. Attaching happens before the status is posted, so two
//! statuses can never share one upload; a media attached to a status that never appeared is
//! garbage for `peerpx gc`.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::Millis;

/// Longest alt text, in characters (Mastodon's limit).
pub const DESCRIPTION_MAX: usize = 1500;

/// One file of a media in the block store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredFile {
    /// CIDv1 of the file as `ipfs add --cid-version=1` computes it.
    pub cid: String,
    pub content_type: String,
    pub bytes: u64,
    pub width: u32,
    pub height: u32,
}

/// A focal point, both coordinates in -1.0..=1.0 (Mastodon's convention: x right, y up).
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Focus {
    pub x: f64,
    pub y: f64,
}

impl Focus {
    pub fn valid(&self) -> bool {
        (-1.0..=1.0).contains(&self.x) && (-1.0..=1.0).contains(&self.y)
    }
}

/// Where a photo was taken; only ever stored when its uploader opted in.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Location {
    pub latitude: f64,
    pub longitude: f64,
}

/// What the camera recorded, as shown to people.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Exif {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_make: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub camera_model: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lens_model: Option<String>,
    /// As photographers write it: "1/250", "2.5".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exposure_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub f_number: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub iso: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub focal_length_mm: Option<f64>,
    /// The camera's local date and time, `YYYY-MM-DDTHH:MM:SS` (cameras record no zone).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken_at: Option<String>,
    /// Present only when the uploader chose to keep the location.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Upload {
    pub id: String,
    pub account_id: String,
    /// The original, re-encoded only when metadata had to be removed.
    pub original: StoredFile,
    /// About 640 px on the long side.
    pub small: StoredFile,
    /// About 2048 px on the long side (the original's size when smaller).
    pub large: StoredFile,
    pub blurhash: String,
    pub exif: Exif,
    pub description: Option<String>,
    pub focus: Option<Focus>,
    pub at: Millis,
}

#[derive(Debug, Clone, PartialEq)]
pub enum MediaCommand {
    Upload(Box<Upload>),
    /// Alt text and focal point of a media not yet attached (attached ones change by a status edit).
    Describe {
        account_id: String,
        description: Option<String>,
        focus: Option<Focus>,
        at: Millis,
    },
    Attach {
        account_id: String,
        status_id: String,
        at: Millis,
    },
    Delete {
        account_id: String,
        at: Millis,
    },
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum MediaEvent {
    MediaUploaded(Box<Upload>),
    MediaDescribed {
        description: Option<String>,
        focus: Option<Focus>,
        at: Millis,
    },
    MediaAttached {
        status_id: String,
        at: Millis,
    },
    MediaDeleted {
        at: Millis,
    },
}

impl DomainEvent for MediaEvent {
    fn event_type(&self) -> String {
        match self {
            Self::MediaUploaded(_) => "MediaUploaded",
            Self::MediaDescribed { .. } => "MediaDescribed",
            Self::MediaAttached { .. } => "MediaAttached",
            Self::MediaDeleted { .. } => "MediaDeleted",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum MediaError {
    #[error("this media already exists")]
    AlreadyUploaded,
    #[error("Record not found")]
    NotFound,
    #[error("this media is already attached to another post")]
    AlreadyAttached,
    #[error("description is too long (at most {DESCRIPTION_MAX} characters)")]
    DescriptionTooLong,
    #[error("focus must be two numbers between -1.0 and 1.0")]
    InvalidFocus,
}

impl MediaError {
    pub fn code(&self) -> &'static str {
        match self {
            Self::AlreadyUploaded => "already_uploaded",
            Self::NotFound => "not_found",
            Self::AlreadyAttached => "already_attached",
            Self::DescriptionTooLong => "description_too_long",
            Self::InvalidFocus => "invalid_focus",
        }
    }
}

/// The alt-text and focus rules, also checked by the API before it stores any file.
pub fn check_description(
    description: Option<&str>,
    focus: Option<&Focus>,
) -> Result<(), MediaError> {
    if description.is_some_and(|d| d.chars().count() > DESCRIPTION_MAX) {
        return Err(MediaError::DescriptionTooLong);
    }
    if focus.is_some_and(|f| !f.valid()) {
        return Err(MediaError::InvalidFocus);
    }
    Ok(())
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Media {
    pub account_id: Option<String>,
    pub status_id: Option<String>,
    pub deleted: bool,
}

impl Media {
    /// Media that exists, is not deleted and belongs to `account_id` (anything else is "not found").
    fn owned_by(&self, account_id: &str) -> Result<(), MediaError> {
        if self.deleted || self.account_id.as_deref() != Some(account_id) {
            return Err(MediaError::NotFound);
        }
        Ok(())
    }
}

impl Aggregate for Media {
    const TYPE: &'static str = "media";
    type Command = MediaCommand;
    type Event = MediaEvent;
    type Error = MediaError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        use MediaCommand as C;
        use MediaEvent as E;
        let event = match command {
            C::Upload(upload) => {
                if self.account_id.is_some() {
                    return Err(MediaError::AlreadyUploaded);
                }
                check_description(upload.description.as_deref(), upload.focus.as_ref())?;
                E::MediaUploaded(upload)
            }
            C::Describe {
                account_id,
                description,
                focus,
                at,
            } => {
                self.owned_by(&account_id)?;
                if self.status_id.is_some() {
                    return Err(MediaError::AlreadyAttached);
                }
                check_description(description.as_deref(), focus.as_ref())?;
                E::MediaDescribed {
                    description,
                    focus,
                    at,
                }
            }
            C::Attach {
                account_id,
                status_id,
                at,
            } => {
                self.owned_by(&account_id)?;
                match &self.status_id {
                    Some(s) if *s == status_id => return Ok(()),
                    Some(_) => return Err(MediaError::AlreadyAttached),
                    None => E::MediaAttached { status_id, at },
                }
            }
            C::Delete { account_id, at } => {
                if self.deleted {
                    return Ok(());
                }
                self.owned_by(&account_id)?;
                if self.status_id.is_some() {
                    // Attached photos go with their status.
                    return Err(MediaError::AlreadyAttached);
                }
                E::MediaDeleted { at }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            MediaEvent::MediaUploaded(upload) => self.account_id = Some(upload.account_id),
            MediaEvent::MediaAttached { status_id, .. } => self.status_id = Some(status_id),
            MediaEvent::MediaDeleted { .. } => self.deleted = true,
            MediaEvent::MediaDescribed { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use MediaCommand as C;
    use MediaEvent as E;

    fn media() -> TestFramework<Media> {
        TestFramework::with(())
    }

    fn file(cid: &str) -> StoredFile {
        StoredFile {
            cid: cid.into(),
            content_type: "image/jpeg".into(),
            bytes: 10,
            width: 4,
            height: 3,
        }
    }

    pub(crate) fn upload() -> Upload {
        Upload {
            id: "7".into(),
            account_id: "1".into(),
            original: file("a"),
            small: file("b"),
            large: file("c"),
            blurhash: "L00000fQfQfQfQfQfQfQfQfQfQfQ".into(),
            exif: Exif::default(),
            description: Some("a cat".into()),
            focus: None,
            at: 1,
        }
    }

    #[test]
    fn an_upload_is_recorded_once() {
        media()
            .given_no_previous_events()
            .when(C::Upload(Box::new(upload())))
            .then_expect_events(vec![E::MediaUploaded(Box::new(upload()))]);
        media()
            .given(vec![E::MediaUploaded(Box::new(upload()))])
            .when(C::Upload(Box::new(upload())))
            .then_expect_error(MediaError::AlreadyUploaded);
    }

    #[test]
    fn alt_text_and_focus_are_checked() {
        let mut long = upload();
        long.description = Some("x".repeat(DESCRIPTION_MAX + 1));
        media()
            .given_no_previous_events()
            .when(C::Upload(Box::new(long)))
            .then_expect_error(MediaError::DescriptionTooLong);
        media()
            .given(vec![E::MediaUploaded(Box::new(upload()))])
            .when(C::Describe {
                account_id: "1".into(),
                description: None,
                focus: Some(Focus { x: 2.0, y: 0.0 }),
                at: 2,
            })
            .then_expect_error(MediaError::InvalidFocus);
    }

    #[test]
    fn only_the_uploader_describes_and_only_before_attaching() {
        let describe = |account: &str| C::Describe {
            account_id: account.into(),
            description: Some("a dog".into()),
            focus: Some(Focus { x: 0.5, y: -0.5 }),
            at: 2,
        };
        media()
            .given(vec![E::MediaUploaded(Box::new(upload()))])
            .when(describe("2"))
            .then_expect_error(MediaError::NotFound);
        media()
            .given(vec![E::MediaUploaded(Box::new(upload()))])
            .when(describe("1"))
            .then_expect_events(vec![E::MediaDescribed {
                description: Some("a dog".into()),
                focus: Some(Focus { x: 0.5, y: -0.5 }),
                at: 2,
            }]);
        media()
            .given(vec![
                E::MediaUploaded(Box::new(upload())),
                E::MediaAttached {
                    status_id: "9".into(),
                    at: 2,
                },
            ])
            .when(describe("1"))
            .then_expect_error(MediaError::AlreadyAttached);
    }

    #[test]
    fn a_media_attaches_to_one_status_only() {
        let attach = |status: &str| C::Attach {
            account_id: "1".into(),
            status_id: status.into(),
            at: 3,
        };
        let attached = vec![
            E::MediaUploaded(Box::new(upload())),
            E::MediaAttached {
                status_id: "9".into(),
                at: 2,
            },
        ];
        media()
            .given(attached.clone())
            .when(attach("9"))
            .then_expect_events(vec![]);
        media()
            .given(attached)
            .when(attach("10"))
            .then_expect_error(MediaError::AlreadyAttached);
        media()
            .given(vec![
                E::MediaUploaded(Box::new(upload())),
                E::MediaDeleted { at: 2 },
            ])
            .when(attach("9"))
            .then_expect_error(MediaError::NotFound);
        media()
            .given(vec![
                E::MediaUploaded(Box::new(upload())),
                E::MediaAttached {
                    status_id: "9".into(),
                    at: 2,
                },
            ])
            .when(C::Delete {
                account_id: "1".into(),
                at: 3,
            })
            .then_expect_error(MediaError::AlreadyAttached);
    }
}

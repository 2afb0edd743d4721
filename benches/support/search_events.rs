//! A realistic log for the search bench, generated chunk by chunk (never all in memory):
//! registrations and remote actors, uploads with EXIF attached to photo posts, remote posts with
//! their photos' EXIF, text replies, edits, deletions, renames, password changes and likes.
//! Seeded, so every run indexes the same events.

use peerpx_aggregates::account::Registration;
use peerpx_aggregates::engagement::Target;
use peerpx_aggregates::media::{Exif, StoredFile, Upload};
use peerpx_aggregates::status::{Content, MediaText, Origin, Post, RemoteMedia, ReplyTo};
use peerpx_aggregates::{
    AccountEvent, EngagementEvent, MediaEvent, ProfileChanges, RemoteAccountEvent, RemoteProfile,
    Role, StatusEvent, Visibility,
};
use peerpx_projections::recorded::DomainEvent;
use peerpx_projections::Recorded;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

pub const CAMERAS: &[(&str, &str)] = &[
    ("FUJIFILM", "X-T4"),
    ("FUJIFILM", "X100V"),
    ("Canon", "Canon EOS R5"),
    ("Canon", "Canon EOS 5D Mark IV"),
    ("NIKON CORPORATION", "NIKON Z 6"),
    ("SONY", "ILCE-7M4"),
    ("Leica Camera AG", "LEICA M11"),
    ("Apple", "iPhone 15 Pro"),
    ("OM Digital Solutions", "OM-1"),
    ("RICOH IMAGING COMPANY, LTD.", "GR III"),
];
pub const LENSES: &[&str] = &[
    "XF23mmF1.4 R",
    "XF35mmF2 R WR",
    "RF50mm F1.2 L USM",
    "EF24-70mm f/2.8L II USM",
    "NIKKOR Z 24-70mm f/4 S",
    "FE 85mm F1.8",
    "Summicron-M 1:2/35 ASPH.",
    "iPhone 15 Pro back camera",
];
const LICENCES: &[&str] = &[
    "all-rights-reserved",
    "cc-by",
    "cc-by-sa",
    "cc-by-nc",
    "cc0",
];

/// Words of captions, the first ones the most frequent (roughly Zipf).
pub fn vocabulary() -> Vec<String> {
    const SEEDS: &[&str] = &[
        "sunset",
        "harbour",
        "street",
        "portrait",
        "mountain",
        "forest",
        "city",
        "night",
        "rain",
        "light",
        "winter",
        "summer",
        "beach",
        "river",
        "bridge",
        "market",
        "café",
        "église",
        "été",
        "lumière",
        "brouillard",
        "montagne",
        "rue",
        "fleurs",
        "boats",
        "tram",
        "fog",
        "dawn",
        "snow",
        "garden",
        "train",
        "window",
        "shadow",
        "reflection",
        "old",
        "blue",
    ];
    let mut v: Vec<String> = SEEDS.iter().map(|s| s.to_string()).collect();
    for i in 0..3000 {
        v.push(format!("w{i:04}"));
    }
    v
}

pub struct Generator {
    rng: StdRng,
    words: Vec<String>,
    position: i64,
    at: i64,
    serial: u64,
    /// (username, account id) of local accounts; remote ones are (id, domain).
    locals: Vec<(String, String)>,
    remotes: Vec<(String, String)>,
    /// (status id, author id, remote) of statuses not deleted.
    live: Vec<(String, String, bool)>,
    /// Share of actions that are photo posts, 0..100 (the rest is the mix).
    photo_share: u32,
}

fn file() -> StoredFile {
    StoredFile {
        cid: "bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy".into(),
        content_type: "image/jpeg".into(),
        bytes: 2_000_000,
        width: 2048,
        height: 1365,
    }
}

impl Generator {
    /// `photo_share`: 100 for a log of photo posts only (after a few accounts).
    pub fn new(seed: u64, photo_share: u32) -> Self {
        Self {
            rng: StdRng::seed_from_u64(seed),
            words: vocabulary(),
            position: 0,
            at: 1_700_000_000_000,
            serial: 0,
            locals: Vec::new(),
            remotes: Vec::new(),
            live: Vec::new(),
            photo_share,
        }
    }

    fn push(&mut self, out: &mut Vec<Recorded>, aggregate_id: String, event: DomainEvent) {
        self.position += 1;
        self.at += 1000;
        out.push(Recorded {
            position: self.position,
            aggregate_id,
            sequence: 1,
            event,
        });
    }

    fn word(&mut self) -> String {
        let u: f64 = self.rng.gen();
        let i = ((u * u * u) * self.words.len() as f64) as usize;
        self.words[i.min(self.words.len() - 1)].clone()
    }

    fn caption(&mut self) -> (String, Vec<String>) {
        let n = self.rng.gen_range(3..14);
        let mut words: Vec<String> = (0..n).map(|_| self.word()).collect();
        let tags: Vec<String> = (0..self.rng.gen_range(0..3)).map(|_| self.word()).collect();
        words.extend(tags.iter().map(|t| format!("#{t}")));
        let tags = tags.into_iter().map(|t| t.to_lowercase()).collect();
        (words.join(" "), tags)
    }

    fn id(&mut self) -> String {
        self.serial += 1;
        (((self.at as u64) << 16) | (self.serial & 0xffff)).to_string()
    }

    fn exif(&mut self) -> Exif {
        let (make, model) = CAMERAS[self.rng.gen_range(0..CAMERAS.len())];
        let day = self.rng.gen_range(1..=28);
        let month = self.rng.gen_range(1..=12);
        Exif {
            camera_make: Some(make.into()),
            camera_model: Some(model.into()),
            lens_model: Some(LENSES[self.rng.gen_range(0..LENSES.len())].into()),
            exposure_time: Some("1/250".into()),
            f_number: Some([1.4, 2.0, 2.8, 4.0, 8.0][self.rng.gen_range(0..5)]),
            iso: Some([100, 200, 400, 1600, 6400][self.rng.gen_range(0..5)]),
            focal_length_mm: Some([23.0, 35.0, 50.0, 85.0][self.rng.gen_range(0..4)]),
            taken_at: Some(format!(
                "20{:02}-{month:02}-{day:02}T12:00:00",
                self.rng.gen_range(18..25)
            )),
            location: None,
        }
    }

    fn content(&mut self) -> Content {
        let (text, tags) = self.caption();
        Content {
            html: format!("<p>{text}</p>"),
            text,
            tags,
            language: Some(if self.rng.gen_bool(0.3) { "fr" } else { "en" }.into()),
            licence: LICENCES[self.rng.gen_range(0..LICENCES.len())].into(),
            allow_download: true,
            ..Content::default()
        }
    }

    fn register(&mut self, out: &mut Vec<Recorded>) {
        let n = self.locals.len();
        let username = format!("user{n}");
        let id = self.id();
        let e = AccountEvent::AccountRegistered(Registration {
            id: id.clone(),
            username: username.clone(),
            email: format!("{username}@example.org"),
            password_hash: "x".into(),
            locale: "en".into(),
            reason: None,
            role: Role::User,
            approved: true,
            at: self.at,
            key: None,
        });
        self.push(out, username.clone(), DomainEvent::Account(e));
        self.locals.push((username, id));
    }

    fn remote(&mut self, out: &mut Vec<Recorded>) {
        let n = self.remotes.len();
        let domain = format!("node{}.example", n % 50);
        let uri = format!("https://{domain}/users/r{n}");
        let id = self.id();
        let profile = RemoteProfile {
            uri: uri.clone(),
            username: format!("r{n}"),
            domain: domain.clone(),
            display_name: format!("{} {}", self.word(), self.word()),
            note_html: format!("<p>{}</p>", self.caption().0),
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
        };
        let e = RemoteAccountEvent::RemoteAccountFetched {
            id: id.clone(),
            profile,
            at: self.at,
        };
        self.push(out, uri, DomainEvent::RemoteAccount(e));
        self.remotes.push((id, domain));
    }

    fn post(&mut self, out: &mut Vec<Recorded>, post: Post, remote: bool) {
        self.live
            .push((post.id.clone(), post.account_id.clone(), remote));
        let id = post.id.clone();
        self.push(
            out,
            id,
            DomainEvent::Status(StatusEvent::StatusPosted(post)),
        );
    }

    fn photo_post(&mut self, out: &mut Vec<Recorded>) {
        let (_, account) = self.locals[self.rng.gen_range(0..self.locals.len())].clone();
        let media_id = self.id();
        let status_id = self.id();
        let upload = Upload {
            id: media_id.clone(),
            account_id: account.clone(),
            original: file(),
            small: file(),
            large: file(),
            blurhash: "LEHV6nWB2yk8pyo0adR*.7kCMdnj".into(),
            exif: self.exif(),
            description: None,
            focus: None,
            at: self.at,
        };
        let uploaded = MediaEvent::MediaUploaded(Box::new(upload));
        self.push(out, media_id.clone(), DomainEvent::Media(uploaded));
        let attached = MediaEvent::MediaAttached {
            status_id: status_id.clone(),
            at: self.at,
        };
        self.push(out, media_id.clone(), DomainEvent::Media(attached));
        let mut content = self.content();
        let description = format!("{} {}", self.word(), self.word());
        content.media = vec![MediaText {
            media_id,
            description: Some(description),
        }];
        if self.rng.gen_bool(0.3) {
            content.title = Some(format!("{} {}", self.word(), self.word()));
        }
        let visibility = if self.rng.gen_bool(0.9) {
            Visibility::Public
        } else {
            Visibility::Private
        };
        let post = Post {
            id: status_id,
            account_id: account,
            visibility,
            in_reply_to: None,
            content,
            at: self.at,
            remote: None,
        };
        self.post(out, post, false);
    }

    fn remote_post(&mut self, out: &mut Vec<Recorded>) {
        let (account, domain) = self.remotes[self.rng.gen_range(0..self.remotes.len())].clone();
        let id = self.id();
        let e = self.exif();
        let camera = format!(
            "{} {}",
            e.camera_make.unwrap_or_default(),
            e.camera_model.unwrap_or_default()
        );
        let mut content = self.content();
        content.remote_media = vec![RemoteMedia {
            url: format!("https://{domain}/media/{id}.jpg"),
            description: Some(self.word()),
            exif: Some(
                serde_json::json!({"camera": camera, "lens": e.lens_model, "iso": e.iso, "dateTaken": e.taken_at}),
            ),
            ..RemoteMedia::default()
        }];
        let remote = Some(Origin {
            uri: format!("https://{domain}/notes/{id}"),
            url: None,
        });
        let post = Post {
            id,
            account_id: account,
            visibility: Visibility::Public,
            in_reply_to: None,
            content,
            at: self.at,
            remote,
        };
        self.post(out, post, true);
    }

    fn reply(&mut self, out: &mut Vec<Recorded>) {
        let (parent, parent_author, _) = self.live[self.rng.gen_range(0..self.live.len())].clone();
        let (_, account) = self.locals[self.rng.gen_range(0..self.locals.len())].clone();
        let id = self.id();
        let content = self.content();
        let in_reply_to = Some(ReplyTo {
            status_id: parent,
            account_id: parent_author,
        });
        let post = Post {
            id,
            account_id: account,
            visibility: Visibility::Public,
            in_reply_to,
            content,
            at: self.at,
            remote: None,
        };
        self.post(out, post, false);
    }

    fn edit(&mut self, out: &mut Vec<Recorded>) {
        let (id, account, remote) = self.live[self.rng.gen_range(0..self.live.len())].clone();
        let mut content = self.content();
        if remote {
            content.remote_media = vec![RemoteMedia::default()];
        }
        let e = StatusEvent::StatusEdited {
            account_id: account,
            content,
            at: self.at,
        };
        self.push(out, id, DomainEvent::Status(e));
    }

    fn delete(&mut self, out: &mut Vec<Recorded>) {
        let i = self.rng.gen_range(0..self.live.len());
        let (id, account, _) = self.live.swap_remove(i);
        let e = StatusEvent::StatusDeleted {
            account_id: account,
            at: self.at,
        };
        self.push(out, id, DomainEvent::Status(e));
    }

    fn profile(&mut self, out: &mut Vec<Recorded>, rename: bool) {
        let (username, _) = self.locals[self.rng.gen_range(0..self.locals.len())].clone();
        let e = if rename {
            let changes = ProfileChanges {
                display_name: Some(format!("{} {}", self.word(), self.word())),
                ..ProfileChanges::default()
            };
            AccountEvent::ProfileUpdated {
                changes,
                at: self.at,
            }
        } else {
            AccountEvent::PasswordChanged {
                password_hash: "y".into(),
                at: self.at,
            }
        };
        self.push(out, username, DomainEvent::Account(e));
    }

    fn like(&mut self, out: &mut Vec<Recorded>) {
        let (status, author, _) = self.live[self.rng.gen_range(0..self.live.len())].clone();
        let (_, account) = self.locals[self.rng.gen_range(0..self.locals.len())].clone();
        let target = Target {
            account_id: account.clone(),
            status_id: status.clone(),
            status_account_id: author,
        };
        let e = EngagementEvent::Favourited {
            target,
            at: self.at,
        };
        self.push(
            out,
            format!("{account}:{status}"),
            DomainEvent::Engagement(e),
        );
    }

    /// Statuses posted and not deleted so far.
    pub fn statuses(&self) -> usize {
        self.live.len()
    }

    /// At least `n` more events (an action's events are never split).
    pub fn chunk(&mut self, n: usize) -> Vec<Recorded> {
        let mut out = Vec::with_capacity(n + 3);
        while out.len() < n {
            if self.locals.len() < 20 {
                self.register(&mut out);
                self.remote(&mut out);
                continue;
            }
            if self.live.is_empty() || self.rng.gen_range(0..100) < self.photo_share {
                self.photo_post(&mut out);
                continue;
            }
            // Per mille of the actions that are not photo posts; renames are rare, as people
            // rarely change their display name.
            match self.rng.gen_range(0..1000) {
                0..40 => self.register(&mut out),
                40..60 => self.remote(&mut out),
                60..160 => self.remote_post(&mut out),
                160..280 => self.reply(&mut out),
                280..360 => self.edit(&mut out),
                360..400 => self.delete(&mut out),
                400..405 => self.profile(&mut out, true),
                405..445 => self.profile(&mut out, false),
                _ => self.like(&mut out),
            }
        }
        out
    }
}

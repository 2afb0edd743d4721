//! Accounts: registration, approval, profile, password, role and suspension.
//!
//! The aggregate id is the lower-cased username, so the event store's per-aggregate sequence makes
//! usernames unique: two concurrent registrations of one name cannot both commit sequence 1.

use cqrs_es::event_sink::EventSink;
use cqrs_es::{Aggregate, DomainEvent};
use serde::{Deserialize, Serialize};

use crate::Millis;

pub const USERNAME_MAX: usize = 30;
pub const DISPLAY_NAME_MAX: usize = 30;
pub const NOTE_MAX: usize = 500;
pub const FIELDS_MAX: usize = 4;
pub const FIELD_MAX: usize = 255;
pub const PASSWORD_MIN: usize = 8;
pub const PASSWORD_MAX: usize = 72;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    #[default]
    User,
    Moderator,
    Admin,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::User => "user",
            Self::Moderator => "moderator",
            Self::Admin => "admin",
        }
    }
}

/// The lifecycle of an account.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum AccountState {
    #[default]
    Unregistered,
    Pending,
    Active,
    Rejected,
    Suspended,
    /// Deleted by an admin after a suspension: gone for good, and its name never taken again
    /// (other servers know its actor by that name).
    Deleted,
}

/// An image stored in the node's blob store, referenced by its content hash.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageRef {
    pub hash: String,
    pub content_type: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileField {
    pub name: String,
    pub value: String,
}

/// Changes to a profile; `None` leaves a part as it is.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct ProfileChanges {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub avatar: Option<ImageRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub header: Option<ImageRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bot: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discoverable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fields: Option<Vec<ProfileField>>,
}

impl ProfileChanges {
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum AccountCommand {
    Register(Registration),
    Approve {
        at: Millis,
    },
    Reject {
        at: Millis,
    },
    UpdateProfile {
        changes: ProfileChanges,
        at: Millis,
    },
    ChangePassword {
        password_hash: String,
        at: Millis,
    },
    ChangeRole {
        role: Role,
        at: Millis,
    },
    Suspend {
        at: Millis,
    },
    Unsuspend {
        at: Millis,
    },
    /// Deletes a suspended account (Mastodon's `DELETE /api/v1/admin/accounts/:id`).
    Delete {
        at: Millis,
    },
    /// Gives an account registered before actor keys existed its key pair (the node does this
    /// at start). Refused when the account already has one: a key, once published, stays.
    GenerateKey {
        key: ActorKey,
        at: Millis,
    },
}

/// An actor's RSA key pair for HTTP signatures: the private key as PKCS#8 PEM, the public key as
/// SPKI PEM. Generated outside the aggregate (it makes no random numbers) and kept in the log, so
/// the key survives a replay and stays the same for every peer that cached it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ActorKey {
    pub public_pem: String,
    pub private_pem: String,
}

/// Never prints the private key.
impl std::fmt::Debug for ActorKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ActorKey")
            .field("public_pem", &self.public_pem)
            .field("private_pem", &"<redacted>")
            .finish()
    }
}

/// What a new account starts with. `approved: false` leaves it pending an admin's approval.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub id: String,
    pub username: String,
    pub email: String,
    pub password_hash: String,
    pub locale: String,
    pub reason: Option<String>,
    pub role: Role,
    pub approved: bool,
    pub at: Millis,
    /// The actor's key pair, generated at registration. Added after `AccountRegistered` 1.0 was
    /// released: an added optional field needs no new event version, because older payloads
    /// simply read as `None` (`serde(default)`); those accounts get their key through
    /// `KeyGenerated` instead.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<ActorKey>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum AccountEvent {
    AccountRegistered(Registration),
    AccountApproved {
        at: Millis,
    },
    AccountRejected {
        at: Millis,
    },
    ProfileUpdated {
        changes: ProfileChanges,
        at: Millis,
    },
    PasswordChanged {
        password_hash: String,
        at: Millis,
    },
    RoleChanged {
        role: Role,
        at: Millis,
    },
    AccountSuspended {
        at: Millis,
    },
    AccountUnsuspended {
        at: Millis,
    },
    AccountDeleted {
        at: Millis,
    },
    /// The key pair of an account registered without one.
    KeyGenerated {
        public_pem: String,
        private_pem: String,
        at: Millis,
    },
}

impl DomainEvent for AccountEvent {
    fn event_type(&self) -> String {
        match self {
            Self::AccountRegistered(_) => "AccountRegistered",
            Self::AccountApproved { .. } => "AccountApproved",
            Self::AccountRejected { .. } => "AccountRejected",
            Self::ProfileUpdated { .. } => "ProfileUpdated",
            Self::PasswordChanged { .. } => "PasswordChanged",
            Self::RoleChanged { .. } => "RoleChanged",
            Self::AccountSuspended { .. } => "AccountSuspended",
            Self::AccountUnsuspended { .. } => "AccountUnsuspended",
            Self::AccountDeleted { .. } => "AccountDeleted",
            Self::KeyGenerated { .. } => "KeyGenerated",
        }
        .to_string()
    }
    fn event_version(&self) -> String {
        "1.0".to_string()
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum AccountError {
    #[error("username is already taken")]
    UsernameTaken,
    #[error("username must be 1 to 30 letters, digits or underscores")]
    InvalidUsername,
    #[error("email address is not valid")]
    InvalidEmail,
    #[error("no such account")]
    NotFound,
    #[error("account is not pending approval")]
    NotPending,
    #[error("account is suspended")]
    Suspended,
    #[error("account is not suspended")]
    NotSuspended,
    #[error("{field} is too long (at most {max} characters)")]
    TooLong { field: &'static str, max: usize },
    #[error("at most {FIELDS_MAX} profile fields are allowed")]
    TooManyFields,
    #[error("account already has a key")]
    KeyExists,
}

impl AccountError {
    /// A stable, machine-readable name for the error.
    pub fn code(&self) -> &'static str {
        match self {
            Self::UsernameTaken => "username_taken",
            Self::InvalidUsername => "invalid_username",
            Self::InvalidEmail => "invalid_email",
            Self::NotFound => "not_found",
            Self::NotPending => "not_pending",
            Self::Suspended => "suspended",
            Self::NotSuspended => "not_suspended",
            Self::TooLong { .. } => "too_long",
            Self::TooManyFields => "too_many_fields",
            Self::KeyExists => "key_exists",
        }
    }
}

/// Mastodon's rule: letters, digits and underscores, at most 30.
pub fn valid_username(username: &str) -> bool {
    !username.is_empty()
        && username.len() <= USERNAME_MAX
        && username
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A deliberately loose check: one `@`, something on each side, a dot in the domain, no spaces.
pub fn valid_email(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains('@')
        && email.len() <= 254
        && !email.chars().any(char::is_whitespace)
}

/// Why a password is refused, or `None` when it is acceptable.
pub fn password_problem(password: &str) -> Option<String> {
    let n = password.chars().count();
    if n < PASSWORD_MIN {
        Some(format!(
            "password is too short (minimum is {PASSWORD_MIN} characters)"
        ))
    } else if password.len() > PASSWORD_MAX {
        Some(format!(
            "password is too long (maximum is {PASSWORD_MAX} bytes)"
        ))
    } else {
        None
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Account {
    pub state: AccountState,
    pub id: String,
    pub role: Role,
    /// Whether the account has its actor key. `serde(default)`: snapshots taken before keys
    /// existed read as `false`, which is what their events say.
    #[serde(default)]
    pub has_key: bool,
}

fn too_long(field: &'static str, value: &str, max: usize) -> Result<(), AccountError> {
    if value.chars().count() > max {
        Err(AccountError::TooLong { field, max })
    } else {
        Ok(())
    }
}

/// The profile rules, also used by the API to refuse an edit before it stores any image.
pub fn check_profile(changes: &ProfileChanges) -> Result<(), AccountError> {
    if let Some(name) = &changes.display_name {
        too_long("display_name", name, DISPLAY_NAME_MAX)?;
    }
    if let Some(note) = &changes.note {
        too_long("note", note, NOTE_MAX)?;
    }
    if let Some(fields) = &changes.fields {
        if fields.len() > FIELDS_MAX {
            return Err(AccountError::TooManyFields);
        }
        for field in fields {
            too_long("field name", &field.name, FIELD_MAX)?;
            too_long("field value", &field.value, FIELD_MAX)?;
        }
    }
    Ok(())
}

impl Account {
    fn register(&self, reg: Registration) -> Result<AccountEvent, AccountError> {
        if !matches!(
            self.state,
            AccountState::Unregistered | AccountState::Rejected
        ) {
            return Err(AccountError::UsernameTaken);
        }
        if !valid_username(&reg.username) {
            return Err(AccountError::InvalidUsername);
        }
        if !valid_email(&reg.email) {
            return Err(AccountError::InvalidEmail);
        }
        if let Some(reason) = &reg.reason {
            too_long("reason", reason, 1000)?;
        }
        Ok(AccountEvent::AccountRegistered(reg))
    }

    /// Every command but registration needs an account that exists and was not rejected.
    fn existing(&self) -> Result<(), AccountError> {
        match self.state {
            AccountState::Unregistered | AccountState::Rejected | AccountState::Deleted => {
                Err(AccountError::NotFound)
            }
            _ => Ok(()),
        }
    }
}

impl Aggregate for Account {
    const TYPE: &'static str = "account";
    type Command = AccountCommand;
    type Event = AccountEvent;
    type Error = AccountError;
    type Services = ();

    async fn handle(
        &mut self,
        command: Self::Command,
        _services: &(),
        sink: &EventSink<Self>,
    ) -> Result<(), Self::Error> {
        use AccountCommand as C;
        use AccountEvent as E;
        let event = match command {
            C::Register(reg) => self.register(reg)?,
            C::Approve { at } => {
                self.existing()?;
                if self.state != AccountState::Pending {
                    return Err(AccountError::NotPending);
                }
                E::AccountApproved { at }
            }
            C::Reject { at } => {
                self.existing()?;
                if self.state != AccountState::Pending {
                    return Err(AccountError::NotPending);
                }
                E::AccountRejected { at }
            }
            C::UpdateProfile { changes, at } => {
                self.existing()?;
                if self.state == AccountState::Suspended {
                    return Err(AccountError::Suspended);
                }
                check_profile(&changes)?;
                if changes.is_empty() {
                    return Ok(());
                }
                E::ProfileUpdated { changes, at }
            }
            C::ChangePassword { password_hash, at } => {
                self.existing()?;
                E::PasswordChanged { password_hash, at }
            }
            C::ChangeRole { role, at } => {
                self.existing()?;
                if role == self.role {
                    return Ok(());
                }
                E::RoleChanged { role, at }
            }
            C::Suspend { at } => {
                self.existing()?;
                if self.state == AccountState::Suspended {
                    return Ok(());
                }
                E::AccountSuspended { at }
            }
            C::Unsuspend { at } => {
                self.existing()?;
                if self.state != AccountState::Suspended {
                    return Err(AccountError::NotSuspended);
                }
                E::AccountUnsuspended { at }
            }
            C::Delete { at } => {
                self.existing()?;
                if self.state != AccountState::Suspended {
                    return Err(AccountError::NotSuspended);
                }
                E::AccountDeleted { at }
            }
            C::GenerateKey { key, at } => {
                self.existing()?;
                if self.has_key {
                    return Err(AccountError::KeyExists);
                }
                E::KeyGenerated {
                    public_pem: key.public_pem,
                    private_pem: key.private_pem,
                    at,
                }
            }
        };
        sink.write(event, self).await;
        Ok(())
    }

    fn apply(&mut self, event: Self::Event) {
        match event {
            AccountEvent::AccountRegistered(reg) => {
                self.id = reg.id;
                self.role = reg.role;
                self.has_key = reg.key.is_some();
                self.state = if reg.approved {
                    AccountState::Active
                } else {
                    AccountState::Pending
                };
            }
            AccountEvent::AccountApproved { .. } | AccountEvent::AccountUnsuspended { .. } => {
                self.state = AccountState::Active
            }
            AccountEvent::AccountRejected { .. } => self.state = AccountState::Rejected,
            AccountEvent::AccountSuspended { .. } => self.state = AccountState::Suspended,
            AccountEvent::AccountDeleted { .. } => self.state = AccountState::Deleted,
            AccountEvent::RoleChanged { role, .. } => self.role = role,
            AccountEvent::KeyGenerated { .. } => self.has_key = true,
            AccountEvent::ProfileUpdated { .. } | AccountEvent::PasswordChanged { .. } => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cqrs_es::test::TestFramework;
    use AccountCommand as C;
    use AccountEvent as E;

    fn account() -> TestFramework<Account> {
        TestFramework::with(())
    }

    fn registration(approved: bool) -> Registration {
        Registration {
            id: "1".into(),
            username: "alice".into(),
            email: "alice@example.org".into(),
            password_hash: "hash".into(),
            locale: "en".into(),
            reason: None,
            role: Role::User,
            approved,
            at: 1,
            key: None,
        }
    }

    fn key() -> ActorKey {
        ActorKey {
            public_pem: "public".into(),
            private_pem: "private".into(),
        }
    }

    fn key_generated(at: Millis) -> E {
        E::KeyGenerated {
            public_pem: "public".into(),
            private_pem: "private".into(),
            at,
        }
    }

    fn registered_pending() -> E {
        E::AccountRegistered(registration(false))
    }

    #[test]
    fn registering_a_free_username_records_it() {
        account()
            .given_no_previous_events()
            .when(C::Register(registration(false)))
            .then_expect_events(vec![registered_pending()]);
    }

    #[test]
    fn registering_a_taken_username_is_refused() {
        account()
            .given(vec![registered_pending()])
            .when(C::Register(registration(true)))
            .then_expect_error(AccountError::UsernameTaken);
    }

    #[test]
    fn a_rejected_username_can_be_registered_again() {
        account()
            .given(vec![registered_pending(), E::AccountRejected { at: 2 }])
            .when(C::Register(registration(true)))
            .then_expect_events(vec![E::AccountRegistered(registration(true))]);
    }

    #[test]
    fn invalid_usernames_and_emails_are_refused() {
        let mut bad_name = registration(true);
        bad_name.username = "no spaces".into();
        account()
            .given_no_previous_events()
            .when(C::Register(bad_name))
            .then_expect_error(AccountError::InvalidUsername);
        let mut bad_email = registration(true);
        bad_email.email = "alice.example.org".into();
        account()
            .given_no_previous_events()
            .when(C::Register(bad_email))
            .then_expect_error(AccountError::InvalidEmail);
    }

    #[test]
    fn a_pending_account_is_approved_once() {
        account()
            .given(vec![registered_pending()])
            .when(C::Approve { at: 2 })
            .then_expect_events(vec![E::AccountApproved { at: 2 }]);
        account()
            .given(vec![registered_pending(), E::AccountApproved { at: 2 }])
            .when(C::Approve { at: 3 })
            .then_expect_error(AccountError::NotPending);
    }

    #[test]
    fn approving_an_unknown_account_is_not_found() {
        account()
            .given_no_previous_events()
            .when(C::Approve { at: 2 })
            .then_expect_error(AccountError::NotFound);
    }

    #[test]
    fn a_long_display_name_is_refused() {
        let changes = ProfileChanges {
            display_name: Some("x".repeat(31)),
            ..Default::default()
        };
        account()
            .given(vec![E::AccountRegistered(registration(true))])
            .when(C::UpdateProfile { changes, at: 2 })
            .then_expect_error(AccountError::TooLong {
                field: "display_name",
                max: 30,
            });
    }

    #[test]
    fn five_profile_fields_are_too_many() {
        let field = ProfileField {
            name: "a".into(),
            value: "b".into(),
        };
        let changes = ProfileChanges {
            fields: Some(vec![field; 5]),
            ..Default::default()
        };
        account()
            .given(vec![E::AccountRegistered(registration(true))])
            .when(C::UpdateProfile { changes, at: 2 })
            .then_expect_error(AccountError::TooManyFields);
    }

    #[test]
    fn an_empty_profile_update_records_nothing() {
        account()
            .given(vec![E::AccountRegistered(registration(true))])
            .when(C::UpdateProfile {
                changes: ProfileChanges::default(),
                at: 2,
            })
            .then_expect_events(vec![]);
    }

    #[test]
    fn a_suspended_account_cannot_edit_its_profile() {
        let changes = ProfileChanges {
            note: Some("hi".into()),
            ..Default::default()
        };
        account()
            .given(vec![
                E::AccountRegistered(registration(true)),
                E::AccountSuspended { at: 2 },
            ])
            .when(C::UpdateProfile { changes, at: 3 })
            .then_expect_error(AccountError::Suspended);
    }

    #[test]
    fn only_a_suspended_account_is_deleted_and_then_it_is_gone_for_good() {
        account()
            .given(vec![E::AccountRegistered(registration(true))])
            .when(C::Delete { at: 3 })
            .then_expect_error(AccountError::NotSuspended);
        let suspended = || {
            vec![
                E::AccountRegistered(registration(true)),
                E::AccountSuspended { at: 2 },
            ]
        };
        account()
            .given(suspended())
            .when(C::Delete { at: 3 })
            .then_expect_events(vec![E::AccountDeleted { at: 3 }]);
        let mut deleted = suspended();
        deleted.push(E::AccountDeleted { at: 3 });
        account()
            .given(deleted.clone())
            .when(C::Unsuspend { at: 4 })
            .then_expect_error(AccountError::NotFound);
        // Its name stays taken: other servers know the actor by it.
        account()
            .given(deleted)
            .when(C::Register(registration(true)))
            .then_expect_error(AccountError::UsernameTaken);
    }

    #[test]
    fn password_rules_match_mastodon() {
        assert!(password_problem("short").is_some());
        assert!(password_problem("long enough").is_none());
        assert!(password_problem(&"x".repeat(73)).is_some());
    }

    #[test]
    fn an_account_registered_without_a_key_gets_one_once() {
        account()
            .given(vec![E::AccountRegistered(registration(true))])
            .when(C::GenerateKey { key: key(), at: 2 })
            .then_expect_events(vec![key_generated(2)]);
        account()
            .given(vec![
                E::AccountRegistered(registration(true)),
                key_generated(2),
            ])
            .when(C::GenerateKey { key: key(), at: 3 })
            .then_expect_error(AccountError::KeyExists);
    }

    #[test]
    fn an_account_registered_with_a_key_keeps_it() {
        let mut with_key = registration(true);
        with_key.key = Some(key());
        account()
            .given(vec![E::AccountRegistered(with_key)])
            .when(C::GenerateKey { key: key(), at: 2 })
            .then_expect_error(AccountError::KeyExists);
        account()
            .given_no_previous_events()
            .when(C::GenerateKey { key: key(), at: 2 })
            .then_expect_error(AccountError::NotFound);
    }

    #[test]
    fn a_registration_stored_before_keys_existed_still_reads() {
        let old = r#"{"id":"1","username":"alice","email":"alice@example.org","password_hash":"h",
            "locale":"en","reason":null,"role":"user","approved":true,"at":1}"#;
        let reg: Registration = serde_json::from_str(old).expect("old shape");
        assert_eq!(reg.key, None);
        let json = serde_json::to_string(&registration(true)).expect("json");
        assert!(!json.contains("key"), "no key, no field: {json}");
        assert!(!format!("{:?}", key()).contains("private\""));
    }
}

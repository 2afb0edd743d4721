//! Runs commands through cqrs-es against the event log and reports where their events landed.

use std::cell::Cell;
use std::collections::HashMap;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{AggregateError, CqrsFramework};
use peerpx_aggregates::engagement::engagement_id;
use peerpx_aggregates::relationship::relationship_id;
use peerpx_aggregates::upcast::upcasters;
use peerpx_aggregates::{
    Account, AccountCommand, AccountError, ActivityError, DomainBlock, DomainBlockCommand,
    DomainBlockError, Engagement, EngagementCommand, EngagementError, Inbound, InboundCommand,
    Instance, InstanceCommand, InstanceError, Media, MediaCommand, MediaError, Outbound,
    OutboundCommand, Relationship, RelationshipCommand, RelationshipError, RemoteAccount,
    RemoteAccountCommand, RemoteAccountError, Status, StatusCommand, StatusError, INSTANCE_ID,
};

use crate::log::{EventLog, LAST_APPENDED};

type Framework<A> = CqrsFramework<A, PersistedEventStore<EventLog, A>>;

/// Take a snapshot of an aggregate every this many events, so a command never replays a long
/// history.
const SNAPSHOT_EVERY: usize = 50;

pub struct Commands {
    log: EventLog,
    accounts: Framework<Account>,
    instance: Framework<Instance>,
    media: Framework<Media>,
    statuses: Framework<Status>,
    relationships: Framework<Relationship>,
    engagements: Framework<Engagement>,
    remote_accounts: Framework<RemoteAccount>,
    inbound: Framework<Inbound>,
    outbound: Framework<Outbound>,
    domain_blocks: Framework<DomainBlock>,
}

fn framework<A>(log: &EventLog) -> Framework<A>
where
    A: cqrs_es::Aggregate<Services = ()> + 'static,
{
    let store = PersistedEventStore::new_snapshot_store(log.clone(), SNAPSHOT_EVERY)
        .with_upcasters(upcasters());
    CqrsFramework::new(store, vec![], ())
}

/// Runs `f` and returns the last log position it appended (0 when it appended nothing).
async fn positioned<E>(f: impl std::future::Future<Output = Result<(), E>>) -> Result<i64, E> {
    LAST_APPENDED
        .scope(Cell::new(0), async move {
            f.await?;
            Ok(LAST_APPENDED.with(Cell::get))
        })
        .await
}

impl Commands {
    pub fn new(log: EventLog) -> Self {
        Self {
            accounts: framework(&log),
            instance: framework(&log),
            media: framework(&log),
            statuses: framework(&log),
            relationships: framework(&log),
            engagements: framework(&log),
            remote_accounts: framework(&log),
            inbound: framework(&log),
            outbound: framework(&log),
            domain_blocks: framework(&log),
            log,
        }
    }

    pub fn log(&self) -> &EventLog {
        &self.log
    }

    /// Handles an account command; `username` is the aggregate id (any case).
    pub async fn account(
        &self,
        username: &str,
        command: AccountCommand,
        metadata: HashMap<String, String>,
    ) -> Result<i64, AggregateError<AccountError>> {
        let id = username.to_lowercase();
        positioned(self.accounts.execute_with_metadata(&id, command, metadata)).await
    }

    pub async fn instance(
        &self,
        command: InstanceCommand,
        metadata: HashMap<String, String>,
    ) -> Result<i64, AggregateError<InstanceError>> {
        positioned(
            self.instance
                .execute_with_metadata(INSTANCE_ID, command, metadata),
        )
        .await
    }

    pub async fn media(
        &self,
        media_id: &str,
        command: MediaCommand,
        metadata: HashMap<String, String>,
    ) -> Result<i64, AggregateError<MediaError>> {
        positioned(
            self.media
                .execute_with_metadata(media_id, command, metadata),
        )
        .await
    }

    pub async fn status(
        &self,
        status_id: &str,
        command: StatusCommand,
        metadata: HashMap<String, String>,
    ) -> Result<i64, AggregateError<StatusError>> {
        positioned(
            self.statuses
                .execute_with_metadata(status_id, command, metadata),
        )
        .await
    }

    /// What `account_id` does towards `target_id`.
    pub async fn relationship(
        &self,
        account_id: &str,
        target_id: &str,
        command: RelationshipCommand,
        metadata: HashMap<String, String>,
    ) -> Result<i64, AggregateError<RelationshipError>> {
        let id = relationship_id(account_id, target_id);
        positioned(
            self.relationships
                .execute_with_metadata(&id, command, metadata),
        )
        .await
    }

    /// `account_id`'s favourite and bookmark of `status_id`.
    pub async fn engagement(
        &self,
        account_id: &str,
        status_id: &str,
        command: EngagementCommand,
        metadata: HashMap<String, String>,
    ) -> Result<i64, AggregateError<EngagementError>> {
        let id = engagement_id(account_id, status_id);
        positioned(
            self.engagements
                .execute_with_metadata(&id, command, metadata),
        )
        .await
    }

    /// [`Commands::engagement`], run again when it lost a race with another writer of the same
    /// pair (a double click, or the inbox and a request at once): at most three attempts.
    pub async fn engagement_retrying(
        &self,
        account_id: &str,
        status_id: &str,
        command: EngagementCommand,
        metadata: HashMap<String, String>,
    ) -> Result<i64, AggregateError<EngagementError>> {
        let mut attempts = 0;
        loop {
            attempts += 1;
            match self
                .engagement(account_id, status_id, command.clone(), metadata.clone())
                .await
            {
                Err(AggregateError::AggregateConflict) if attempts < 3 => continue,
                outcome => return outcome,
            }
        }
    }

    /// A remote actor's document, keyed by its URI.
    pub async fn remote_account(
        &self,
        uri: &str,
        command: RemoteAccountCommand,
        metadata: HashMap<String, String>,
    ) -> Result<i64, AggregateError<RemoteAccountError>> {
        positioned(
            self.remote_accounts
                .execute_with_metadata(uri, command, metadata),
        )
        .await
    }

    /// A received activity, keyed by its id: 0 when it had been received before.
    pub async fn inbound(
        &self,
        activity_id: &str,
        command: InboundCommand,
        metadata: HashMap<String, String>,
    ) -> Result<i64, AggregateError<ActivityError>> {
        positioned(
            self.inbound
                .execute_with_metadata(activity_id, command, metadata),
        )
        .await
    }

    /// An activity a local account sends, keyed by its id.
    pub async fn outbound(
        &self,
        activity_id: &str,
        command: OutboundCommand,
        metadata: HashMap<String, String>,
    ) -> Result<i64, AggregateError<ActivityError>> {
        positioned(
            self.outbound
                .execute_with_metadata(activity_id, command, metadata),
        )
        .await
    }

    /// A domain block, keyed by the domain in its normal form
    /// (`peerpx_aggregates::domain_block::normalize_domain`).
    pub async fn domain_block(
        &self,
        domain: &str,
        command: DomainBlockCommand,
        metadata: HashMap<String, String>,
    ) -> Result<i64, AggregateError<DomainBlockError>> {
        positioned(
            self.domain_blocks
                .execute_with_metadata(domain, command, metadata),
        )
        .await
    }
}

//! Runs commands through cqrs-es against the event log and reports where their events landed.

use std::cell::Cell;
use std::collections::HashMap;

use cqrs_es::persist::PersistedEventStore;
use cqrs_es::{AggregateError, CqrsFramework};
use peerpx_aggregates::upcast::upcasters;
use peerpx_aggregates::{
    Account, AccountCommand, AccountError, Instance, InstanceCommand, InstanceError, INSTANCE_ID,
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
}

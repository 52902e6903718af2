//! The `platform-events` consumer: an SQS batch of EventBridge events applied to the
//! organisations' resource records and ledgers (docs/platform-events.md).
//!
//! Each message stands alone: a malformed body, an unknown organisation or a write that keeps
//! failing is reported as a batch item failure (SQS delivers it again, then moves it to the
//! dead-letter queue) and the rest of the batch is applied.
//!
//! Cost: one BatchGetItem per 100 keys for the whole batch reads every profile and resource
//! item the batch names; then each event that changes something is one TransactWriteItems.
//! Events of one organisation are applied in order, each starting from what the previous one
//! wrote, so they need no further read; organisations are applied concurrently. A stale read
//! (another writer got there first) fails a condition, and that event is read again and
//! decided again.

use std::cell::Cell;
use std::collections::{HashMap, HashSet};

use futures_util::stream::{self, StreamExt};

pub use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

use crate::domain::ledger::{LedgerDelta, ResourceLedger};
use crate::domain::organisation::Organisation;
use crate::domain::platform::{PlatformEvent, Resource, ResourceRecord, ResourceState};
use crate::domain::Slug;
use crate::storage::keys::{self, org_pk};
use crate::storage::resources::ResourceWrite;
use crate::storage::retry::{retry, MayConflict};
use crate::storage::{from_item, key, Item, Store, StoreError};

/// Organisations whose events are applied at the same time.
const CONCURRENT_ORGANISATIONS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("organisation '{0}' does not exist")]
    UnknownOrganisation(Slug),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl MayConflict for EventError {
    fn is_conflict(&self) -> bool {
        matches!(self, Self::Store(e) if e.is_conflict())
    }
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// A duplicate, or older than what is recorded.
    Unchanged,
}

/// Applies every message of `batch`; returns the ids of those that failed.
pub async fn apply_batch(store: &Store, batch: SqsEvent) -> SqsBatchResponse {
    let mut response = SqsBatchResponse::default();
    let mut by_organisation: Vec<(Slug, Vec<(String, PlatformEvent)>)> = Vec::new();
    for message in batch.records {
        let message_id = message.message_id.unwrap_or_default();
        match PlatformEvent::parse(message.body.as_deref().unwrap_or_default()) {
            Ok(event) => {
                match by_organisation
                    .iter_mut()
                    .find(|(slug, _)| *slug == event.organisation)
                {
                    Some((_, events)) => events.push((message_id, event)),
                    None => by_organisation
                        .push((event.organisation.clone(), vec![(message_id, event)])),
                }
            }
            Err(error) => {
                tracing::warn!(message_id, %error, "malformed platform event refused");
                response.add_failure(message_id);
            }
        }
    }
    let mut known = match read_batch(store, &by_organisation).await {
        Ok(known) => known,
        Err(error) => {
            // Not fatal: each event then reads what it needs itself.
            tracing::warn!(%error, "batch read failed; reading per event");
            HashMap::new()
        }
    };
    let failures: Vec<Vec<String>> =
        stream::iter(by_organisation.into_iter().map(|(slug, events)| {
            let cache = known.remove(&slug).unwrap_or_default();
            apply_in_order(store, cache, events)
        }))
        .buffer_unordered(CONCURRENT_ORGANISATIONS)
        .collect()
        .await;
    for message_id in failures.into_iter().flatten() {
        response.add_failure(message_id);
    }
    response
}

/// Applies one organisation's events in order; returns the ids of the messages that failed.
async fn apply_in_order(
    store: &Store,
    mut cache: Known,
    events: Vec<(String, PlatformEvent)>,
) -> Vec<String> {
    let mut failed = Vec::new();
    for (message_id, event) in events {
        let event_id = event.id.as_deref();
        let slug = event.organisation.as_str();
        let detail_type = event.kind.detail_type();
        match apply(store, &mut cache, &event).await {
            Ok(outcome) => {
                tracing::info!(
                    message_id,
                    event_id,
                    slug,
                    detail_type,
                    ?outcome,
                    "platform event"
                )
            }
            Err(error @ EventError::Store(_)) => {
                tracing::error!(message_id, event_id, slug, detail_type, %error, debug = ?error, "platform event failed");
                failed.push(message_id);
            }
            Err(error) => {
                tracing::warn!(message_id, event_id, slug, detail_type, %error, "platform event refused");
                failed.push(message_id);
            }
        }
    }
    failed
}

/// Applies one event, from the cached read first and from a fresh read after a conflict.
async fn apply(
    store: &Store,
    cache: &mut Known,
    event: &PlatformEvent,
) -> Result<Outcome, EventError> {
    let cached = Cell::new(cache.view(event));
    let (outcome, view) = retry(|| async {
        let view = match cached.take() {
            Some(view) => view,
            None => View::read(store, event).await?,
        };
        apply_to(store, event, view).await
    })
    .await?;
    cache.remember(event, view);
    Ok(outcome)
}

/// Decides what `event` changes given `view`, and writes it. Returns what is stored after.
async fn apply_to(
    store: &Store,
    event: &PlatformEvent,
    view: View,
) -> Result<(Outcome, View), EventError> {
    let Some(organisation) = view.organisation.clone() else {
        return Err(EventError::UnknownOrganisation(event.organisation.clone()));
    };
    let Some(state) = event.next_state(view.record.as_ref()) else {
        return Ok((Outcome::Unchanged, view));
    };
    let before = view.record.as_ref().map(|r| &r.state);
    let delta = LedgerDelta::between(
        ResourceState::contribution(before),
        ResourceState::contribution(Some(&state)),
    );
    let activity = event.activity(before, &state);
    let payments = match &event.resource {
        Resource::PaymentMethod(id)
            if before.and_then(ResourceState::attached_at) != state.attached_at() =>
        {
            Some(view.ledger.with_payment_method(id, state.attached_at()))
        }
        _ => None,
    };
    let record = event.record(view.record.as_ref(), state);
    store
        .write_resource(&ResourceWrite {
            organisation: &organisation,
            resource: &event.resource,
            read_version: view.record.as_ref().map(|r| r.version),
            record: &record,
            delta,
            payments: payments.as_ref(),
            activity: activity.as_ref(),
        })
        .await?;
    let mut organisation = organisation;
    if activity.is_some() {
        organisation.revision += 1;
    }
    Ok((
        Outcome::Applied,
        View {
            organisation: Some(organisation),
            record: Some(record),
            ledger: payments.unwrap_or(view.ledger),
        },
    ))
}

/// What an event's decision rests on.
#[derive(Debug, Clone)]
struct View {
    /// `None`: there is no such organisation.
    organisation: Option<Organisation>,
    record: Option<ResourceRecord>,
    /// Only its payment methods count, and only for payment method events.
    ledger: ResourceLedger,
}

impl View {
    /// One BatchGetItem: the profile, the resource's record and (for payment methods) the ledger.
    async fn read(store: &Store, event: &PlatformEvent) -> Result<Self, StoreError> {
        let pk = org_pk(&event.organisation);
        let record_sk = keys::resource_sk(&event.resource);
        let mut found = store
            .get_many(wanted(event).into_iter().map(|sk| key(&pk, sk)).collect())
            .await?;
        let mut take = |sk: &str| found.remove(sk);
        Ok(Self {
            organisation: take(keys::PROFILE_SK).map(from_item).transpose()?,
            record: take(&record_sk).map(from_item).transpose()?,
            ledger: take(keys::LEDGER_SK)
                .map(from_item)
                .transpose()?
                .unwrap_or_default(),
        })
    }
}

/// The sort keys of what `event` is decided on, in its organisation's partition.
fn wanted(event: &PlatformEvent) -> Vec<String> {
    let mut sks = vec![
        keys::PROFILE_SK.to_owned(),
        keys::resource_sk(&event.resource),
    ];
    if matches!(event.resource, Resource::PaymentMethod(_)) {
        sks.push(keys::LEDGER_SK.to_owned());
    }
    sks
}

/// What is known of one organisation while its events are applied: read for the whole batch,
/// then kept up to date with what each event wrote. Absent entries were not (or could not be)
/// read; `Some(None)` was read and does not exist.
#[derive(Debug, Default)]
struct Known {
    organisation: Option<Option<Organisation>>,
    records: HashMap<Resource, Option<ResourceRecord>>,
    ledger: Option<ResourceLedger>,
}

impl Known {
    /// What `event` rests on, if all of it is known.
    fn view(&self, event: &PlatformEvent) -> Option<View> {
        let ledger = match event.resource {
            Resource::PaymentMethod(_) => self.ledger.clone()?,
            _ => ResourceLedger::default(),
        };
        Some(View {
            organisation: self.organisation.clone()?,
            record: self.records.get(&event.resource)?.clone(),
            ledger,
        })
    }

    fn remember(&mut self, event: &PlatformEvent, view: View) {
        self.organisation = Some(view.organisation);
        self.records.insert(event.resource.clone(), view.record);
        if matches!(event.resource, Resource::PaymentMethod(_)) {
            self.ledger = Some(view.ledger);
        }
    }

    /// Takes in a read item (or its absence) of this organisation. An item that does not map
    /// stays unknown: the event that needs it reads it again and fails with the reason.
    fn learn(&mut self, resource: Option<&Resource>, sk: &str, item: Option<Item>) {
        fn parse<T: serde::de::DeserializeOwned>(item: Option<Item>) -> Option<Option<T>> {
            item.map(from_item).transpose().ok()
        }
        match resource {
            Some(resource) => {
                if let Some(record) = parse(item) {
                    self.records.insert(resource.clone(), record);
                }
            }
            None if sk == keys::PROFILE_SK => self.organisation = parse(item),
            None => self.ledger = parse(item).map(Option::unwrap_or_default),
        }
    }
}

/// Reads every item the batch's events rest on, 100 keys per BatchGetItem.
async fn read_batch(
    store: &Store,
    by_organisation: &[(Slug, Vec<(String, PlatformEvent)>)],
) -> Result<HashMap<Slug, Known>, StoreError> {
    let mut wanted_keys: Vec<(Slug, String, Option<Resource>)> = Vec::new();
    let mut seen = HashSet::new();
    for (slug, events) in by_organisation {
        for (_, event) in events {
            for sk in wanted(event) {
                if seen.insert((slug.clone(), sk.clone())) {
                    let resource =
                        (sk == keys::resource_sk(&event.resource)).then(|| event.resource.clone());
                    wanted_keys.push((slug.clone(), sk, resource));
                }
            }
        }
    }
    let found = store
        .get_all(
            wanted_keys
                .iter()
                .map(|(slug, sk, _)| key(org_pk(slug), sk))
                .collect(),
        )
        .await?;
    let mut found: HashMap<(String, String), Item> = found
        .into_iter()
        .filter_map(|item| {
            let pk = item.get(keys::PK)?.as_s().ok()?.clone();
            let sk = item.get(keys::SK)?.as_s().ok()?.clone();
            Some(((pk, sk), item))
        })
        .collect();
    let mut known: HashMap<Slug, Known> = HashMap::new();
    for (slug, sk, resource) in wanted_keys {
        let item = found.remove(&(org_pk(&slug), sk.clone()));
        known
            .entry(slug)
            .or_default()
            .learn(resource.as_ref(), &sk, item);
    }
    Ok(known)
}

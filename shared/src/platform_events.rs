//! The `platform-events` consumer: an SQS batch of EventBridge events applied to the
//! organisations' resource records and ledgers (docs/platform-events.md).
//!
//! Each message stands alone: a malformed body, an unknown organisation or a write that keeps
//! failing is reported as a batch item failure (SQS delivers it again, then moves it to the
//! dead-letter queue) and the rest of the batch is applied.
//!
//! Cost: one BatchGetItem per 100 keys for the whole batch reads every profile and resource
//! item the batch names; then each event that changes something is one transaction.
//! Events of one organisation are applied in order, each starting from what the previous one
//! wrote, so they need no further read; organisations are applied concurrently. A stale read
//! (another writer got there first) fails a condition, and that event is read again and
//! decided again.

use std::collections::{HashMap, HashSet};

use futures_util::stream::{self, StreamExt};

pub use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};

use crate::domain::change::{Decision, Profile};
use crate::domain::decisions::{apply_platform_event, PlatformRefusal, ResourceView};
use crate::domain::ledger::ResourceLedger;
use crate::domain::organisation::Organisation;
use crate::domain::platform::{PlatformEvent, Resource, ResourceRecord, MAX_CLOCK_SKEW};
use crate::domain::Slug;
use crate::metrics::{self, PlatformEventOutcome};
use crate::storage::organisations::{Found, Wanted};
use crate::storage::{Store, StoreError};

/// Organisations whose events are applied at the same time.
const CONCURRENT_ORGANISATIONS: usize = 16;

#[derive(Debug, thiserror::Error)]
pub enum EventError {
    #[error("organisation '{0}' does not exist")]
    UnknownOrganisation(Slug),
    #[error("occurredAt lies more than {} minutes in the future", MAX_CLOCK_SKEW.num_minutes())]
    FromTheFuture,
    #[error(transparent)]
    Refused(PlatformRefusal),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What applying an event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Applied,
    /// The event recorded already, delivered again: changes nothing.
    Duplicate,
    /// Older than what is recorded (or after the cluster's deletion): changes nothing.
    Stale,
    /// The slug now names another organisation than the event's identity: dropped.
    OtherOrganisation,
}

impl Outcome {
    fn metric(self) -> PlatformEventOutcome {
        match self {
            Self::Applied => PlatformEventOutcome::Applied,
            Self::Duplicate => PlatformEventOutcome::Duplicate,
            Self::Stale | Self::OtherOrganisation => PlatformEventOutcome::Stale,
        }
    }
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
                metrics::platform_event(PlatformEventOutcome::Refused);
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
        let applied = if event.is_from_the_future(chrono::Utc::now()) {
            Err(EventError::FromTheFuture)
        } else {
            apply(store, &mut cache, &event).await
        };
        metrics::platform_event(match &applied {
            Ok(outcome) => outcome.metric(),
            Err(EventError::Store(_)) => PlatformEventOutcome::Failed,
            Err(_) => PlatformEventOutcome::Refused,
        });
        match applied {
            Ok(Outcome::OtherOrganisation) => {
                tracing::warn!(
                    message_id,
                    event_id,
                    slug,
                    detail_type,
                    identity = %event.organisation_identity,
                    dropped = 1,
                    "platform event names an organisation that no longer holds this slug; dropped"
                )
            }
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
    let mut cached = cache.view(event);
    let (outcome, view) = store
        .decide_and_write(
            |_| {
                let cached = cached.take();
                async move {
                    match cached {
                        Some(view) => Ok(Some(view)),
                        None => Ok(Some(View::read(store, event).await?)),
                    }
                }
            },
            |view: View| decide(event, view),
        )
        .await?;
    cache.remember(event, view);
    Ok(outcome)
}

/// Decides what `event` changes given `view`. The outcome carries what is stored after.
fn decide(event: &PlatformEvent, view: View) -> Result<Decision<(Outcome, View)>, EventError> {
    let Some(organisation) = view.organisation.clone() else {
        return Err(EventError::UnknownOrganisation(event.organisation.clone()));
    };
    let current = ResourceView {
        organisation,
        record: view.record.clone(),
        ledger: view.ledger.clone(),
    };
    Ok(match apply_platform_event(event, &current) {
        Err(PlatformRefusal::OtherOrganisation) => {
            Decision::nothing((Outcome::OtherOrganisation, view))
        }
        Err(refusal) => return Err(EventError::Refused(refusal)),
        Ok(None) if event.is_recorded_in(view.record.as_ref()) => {
            Decision::nothing((Outcome::Duplicate, view))
        }
        Ok(None) => Decision::nothing((Outcome::Stale, view)),
        Ok(Some((change, after))) => {
            // What the next event of the batch rests on is what storage keeps.
            let organisation = match change.profile {
                Profile::Update { .. } => after.organisation.as_written(),
                _ => after.organisation,
            };
            Decision::write(
                change,
                (
                    Outcome::Applied,
                    View {
                        organisation: Some(organisation),
                        record: after.record,
                        ledger: after.ledger,
                    },
                ),
            )
        }
    })
}

/// What an event's decision rests on.
#[derive(Debug, Clone)]
struct View {
    /// `None`: there is no such organisation.
    organisation: Option<Organisation>,
    record: Option<ResourceRecord>,
    /// Its payment methods and its count of resource records count.
    ledger: ResourceLedger,
}

impl View {
    /// One BatchGetItem: the profile, the resource's record and (for payment methods) the ledger.
    async fn read(store: &Store, event: &PlatformEvent) -> Result<Self, StoreError> {
        let read = store
            .resource_views_by_organisation(&[(event.organisation.clone(), wanted(event))])
            .await?;
        let mut known = Known::default();
        for (_, found) in read {
            known.learn(found);
        }
        Ok(Self {
            organisation: known.organisation.flatten(),
            record: known.records.remove(&event.resource).flatten(),
            ledger: known.ledger.unwrap_or_default(),
        })
    }
}

/// What `event` is decided on, in its organisation's partition: the profile, the resource and,
/// the ledger (payment methods, the count of resource records).
fn wanted(event: &PlatformEvent) -> Vec<Wanted> {
    vec![
        Wanted::Profile,
        Wanted::Resource(event.resource.clone()),
        Wanted::Ledger,
    ]
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
        Some(View {
            organisation: self.organisation.clone()?,
            record: self.records.get(&event.resource)?.clone(),
            ledger: self.ledger.clone()?,
        })
    }

    fn remember(&mut self, event: &PlatformEvent, view: View) {
        self.organisation = Some(view.organisation);
        self.records.insert(event.resource.clone(), view.record);
        self.ledger = Some(view.ledger);
    }

    /// Takes in what was read of this organisation (or found absent).
    fn learn(&mut self, found: Found) {
        match found {
            Found::Profile(organisation) => self.organisation = Some(organisation.map(|o| *o)),
            Found::Resource(resource, record) => {
                self.records.insert(resource, record);
            }
            Found::Ledger(ledger) => self.ledger = Some(ledger.unwrap_or_default()),
        }
    }
}

/// Reads every item the batch's events rest on, 100 keys per BatchGetItem.
async fn read_batch(
    store: &Store,
    by_organisation: &[(Slug, Vec<(String, PlatformEvent)>)],
) -> Result<HashMap<Slug, Known>, StoreError> {
    let wanted_by_organisation: Vec<(Slug, Vec<Wanted>)> = by_organisation
        .iter()
        .map(|(slug, events)| {
            let mut seen = HashSet::new();
            let wanted = events
                .iter()
                .flat_map(|(_, event)| wanted(event))
                .filter(|w| seen.insert(w.clone()))
                .collect();
            (slug.clone(), wanted)
        })
        .collect();
    let mut known: HashMap<Slug, Known> = HashMap::new();
    for (slug, found) in store
        .resource_views_by_organisation(&wanted_by_organisation)
        .await?
    {
        known.entry(slug).or_default().learn(found);
    }
    Ok(known)
}

//! The `event-publisher` function: publishes every change to an organisation on the service's
//! own EventBridge bus, from the table's DynamoDB stream (docs/events.md).
//!
//! The change log is the outbox. Every change writes, in its own transaction, an item that
//! says what it publishes (the `outbound` part of its activity event, or of the deletion
//! record): there is no event without its change, no change without its event, and no second
//! write after a commit. The stream delivers those insertions (the event source mapping's
//! filter passes only them) in order per organisation; each becomes one `PutEvents` entry per
//! event, 10 entries per call.
//!
//! An event's `eventId` derives from the organisation's identity, the revision and the event's
//! position in its change ([`event_id`]): a record delivered twice publishes the same ids, so
//! consumers drop the copy. Entries that fail are put again (up to [`PUT_ATTEMPTS`] times in
//! all); records with an entry that still fails are answered as batch item failures, and the
//! stream delivers them again (`ReportBatchItemFailures`).
//!
//! Locally (`make dev`), `EVENTS_OUTBOX_DIR` replaces EventBridge: each event is written as
//! `<eventId>.json`, as a rule target receives it.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use uuid::Uuid;

pub use aws_lambda_events::event::dynamodb::{Event as StreamEvent, EventRecord as StreamRecord};
pub use aws_lambda_events::event::streams::{DynamoDbBatchItemFailure, DynamoDbEventResponse};

use crate::domain::activity::Outbound;
use crate::storage::entities::published;

/// The `source` of the service's events unless `EVENT_SOURCE` says otherwise.
pub const DEFAULT_SOURCE: &str = "platform.organisations";

/// The most entries one `PutEvents` call takes.
pub const ENTRIES_PER_CALL: usize = 10;

/// How often an entry is put within one invocation before its record is reported as failed.
pub const PUT_ATTEMPTS: u32 = 3;

/// The namespace of `eventId`s (UUID version 5): the same organisation, revision and position
/// always give the same id.
pub const EVENT_ID_NAMESPACE: Uuid = Uuid::from_u128(0x5c0e_2a61_7d4b_4f0e_9a3c_1b6d_8e2f_4a70);

/// The `eventId` of the event at `position` (0 for the first) of the change that took
/// `organisation`'s `revision`.
pub fn event_id(organisation: Uuid, revision: u64, position: usize) -> Uuid {
    Uuid::new_v5(
        &EVENT_ID_NAMESPACE,
        format!("{organisation}/{revision}/{position}").as_bytes(),
    )
}

/// One event to publish, and the stream record it comes from.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    /// Index of the record in its batch.
    pub record: usize,
    pub event_id: Uuid,
    pub detail_type: &'static str,
    pub time: DateTime<Utc>,
    /// The `detail`: the common fields, then the fields of its type.
    pub detail: Map<String, Value>,
}

/// The entries of one change, in order.
pub fn entries(record: usize, outbound: &Outbound) -> Vec<Entry> {
    outbound
        .events
        .iter()
        .enumerate()
        .map(|(position, event)| {
            let event_id = event_id(outbound.organisation_identity, outbound.revision, position);
            let mut detail = Map::new();
            detail.insert("eventId".into(), Value::from(event_id.to_string()));
            detail.insert(
                "organisationIdentity".into(),
                Value::from(outbound.organisation_identity.to_string()),
            );
            detail.insert(
                "organisationSlug".into(),
                Value::from(outbound.organisation_slug.as_str()),
            );
            detail.insert("revision".into(), Value::from(outbound.revision));
            detail.insert(
                "occurredAt".into(),
                Value::from(rfc3339(outbound.occurred_at)),
            );
            detail.insert(
                "actor".into(),
                serde_json::to_value(&outbound.actor).unwrap_or(Value::Null),
            );
            for (name, value) in &event.fields {
                detail.entry(name.clone()).or_insert_with(|| value.clone());
            }
            Entry {
                record,
                event_id,
                detail_type: event.detail_type.as_str(),
                time: outbound.occurred_at,
                detail,
            }
        })
        .collect()
}

/// RFC 3339, UTC, milliseconds: how every time in an event is written.
fn rfc3339(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

/// An event as an EventBridge rule target receives it (what the local outbox holds; in AWS
/// EventBridge assigns `id`, `account` and `region` itself, and `detail.eventId` is the id to
/// deduplicate on).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReceivedEvent {
    pub version: String,
    pub id: String,
    #[serde(rename = "detail-type")]
    pub detail_type: String,
    pub source: String,
    pub account: String,
    pub time: String,
    pub region: String,
    pub resources: Vec<String>,
    pub detail: Value,
}

/// Where events go.
#[derive(Debug, Clone)]
pub enum Sink {
    /// `PutEvents` on the bus `bus`.
    EventBridge {
        client: aws_sdk_eventbridge::Client,
        bus: String,
    },
    /// One file per event in `dir` (`make dev`).
    Outbox { dir: PathBuf },
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("EVENT_BUS_NAME must be set (or EVENTS_OUTBOX_DIR, locally)")]
    MissingBus,
    #[error(transparent)]
    TrustStore(#[from] crate::aws::TrustStoreError),
}

/// What the function builds once: where to publish, and as which `source`.
#[derive(Debug, Clone)]
pub struct Publisher {
    pub sink: Sink,
    pub source: String,
    /// Waited before the second put of failed entries, doubled before each further one.
    pub retry_delay: Duration,
}

/// What publishing one batch did (logged; the tests and `make bench` read it).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Published {
    pub records: usize,
    /// Entries put successfully (a retried entry counts once).
    pub events: usize,
    /// `PutEvents` calls (or, for the outbox, groups of up to 10 files).
    pub calls: usize,
    /// Indexes of the records answered as failed.
    pub failed_records: Vec<usize>,
}

impl Publisher {
    pub fn new(sink: Sink, source: impl Into<String>) -> Self {
        Self {
            sink,
            source: source.into(),
            retry_delay: Duration::from_millis(100),
        }
    }

    /// From the environment: `EVENTS_OUTBOX_DIR` (local: files instead of EventBridge) or
    /// `EVENT_BUS_NAME`; `EVENT_SOURCE` (default [`DEFAULT_SOURCE`]); the AWS SDK's own
    /// variables.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let source = var("EVENT_SOURCE").unwrap_or_else(|| DEFAULT_SOURCE.to_owned());
        let sink = match (var("EVENTS_OUTBOX_DIR"), var("EVENT_BUS_NAME")) {
            (Some(dir), _) => Sink::Outbox { dir: dir.into() },
            (None, Some(bus)) => {
                let config = crate::aws::sdk_config()?;
                Sink::EventBridge {
                    client: aws_sdk_eventbridge::Client::new(&config),
                    bus,
                }
            }
            (None, None) => return Err(ConfigError::MissingBus),
        };
        Ok(Self::new(sink, source))
    }

    /// Publishes what the batch's records publish; answers the records to deliver again.
    pub async fn publish(&self, batch: StreamEvent) -> DynamoDbEventResponse {
        let (published, response) = self.publish_counted(batch).await;
        tracing::info!(
            records = published.records,
            events = published.events,
            calls = published.calls,
            failed_records = published.failed_records.len(),
            "published"
        );
        response
    }

    /// [`Publisher::publish`], with what it did.
    pub async fn publish_counted(&self, batch: StreamEvent) -> (Published, DynamoDbEventResponse) {
        let records = batch.records;
        let mut failed: BTreeSet<usize> = BTreeSet::new();
        let mut pending: Vec<Entry> = Vec::new();
        for (index, record) in records.iter().enumerate() {
            // The event source mapping passes only insertions of published items; anything
            // else that reaches here (a test, a changed filter) publishes nothing.
            if record.event_name != "INSERT" {
                continue;
            }
            match published(record.change.new_image.clone()) {
                Ok(Some(outbound)) => pending.extend(entries(index, &outbound)),
                Ok(None) => {}
                Err(error) => {
                    tracing::error!(
                        sequence_number = record.change.sequence_number.as_deref(),
                        %error,
                        "stream record does not map to what it publishes"
                    );
                    failed.insert(index);
                }
            }
        }
        let mut done = Published {
            records: records.len(),
            ..Published::default()
        };
        for attempt in 0..PUT_ATTEMPTS {
            if pending.is_empty() {
                break;
            }
            if attempt > 0 {
                tokio::time::sleep(self.retry_delay * 2u32.pow(attempt - 1)).await;
                tracing::warn!(
                    attempt,
                    entries = pending.len(),
                    "putting failed entries again"
                );
            }
            let mut still = Vec::new();
            for chunk in pending.chunks(ENTRIES_PER_CALL) {
                done.calls += 1;
                let results = self.put(chunk).await;
                for (entry, result) in chunk.iter().zip(results) {
                    match result {
                        Ok(()) => done.events += 1,
                        Err(error) => {
                            tracing::warn!(
                                event_id = %entry.event_id,
                                detail_type = entry.detail_type,
                                %error,
                                "entry not put"
                            );
                            still.push(entry.clone());
                        }
                    }
                }
            }
            pending = still;
        }
        // Events not put, and records that could not say what they publish (one each).
        let not_published = pending.len() + failed.len();
        crate::metrics::outbound_events(
            u64::try_from(done.events).unwrap_or(u64::MAX),
            u64::try_from(not_published).unwrap_or(u64::MAX),
        );
        failed.extend(pending.iter().map(|e| e.record));
        let mut response = DynamoDbEventResponse::default();
        for index in &failed {
            let sequence_number = records[*index].change.sequence_number.clone();
            tracing::error!(
                sequence_number = sequence_number.as_deref(),
                "record not published; the stream delivers it again"
            );
            let mut failure = DynamoDbBatchItemFailure::default();
            failure.item_identifier = sequence_number;
            response.batch_item_failures.push(failure);
        }
        done.failed_records = failed.into_iter().collect();
        (done, response)
    }

    /// Puts at most [`ENTRIES_PER_CALL`] entries; the outcome of each, in order.
    async fn put(&self, entries: &[Entry]) -> Vec<Result<(), String>> {
        match &self.sink {
            Sink::EventBridge { client, bus } => {
                put_events(client, bus, &self.source, entries).await
            }
            Sink::Outbox { dir } => {
                let mut results = Vec::with_capacity(entries.len());
                for entry in entries {
                    results.push(self.write_file(dir, entry).await);
                }
                results
            }
        }
    }

    /// The event as a rule target receives it.
    pub fn received(&self, entry: &Entry) -> ReceivedEvent {
        ReceivedEvent {
            version: "0".to_owned(),
            id: entry.event_id.to_string(),
            detail_type: entry.detail_type.to_owned(),
            source: self.source.clone(),
            account: "000000000000".to_owned(),
            time: entry
                .time
                .to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            region: std::env::var("AWS_REGION").unwrap_or_else(|_| "local".to_owned()),
            resources: Vec::new(),
            detail: Value::Object(entry.detail.clone()),
        }
    }

    /// `<dir>/<eventId>.json`, written whole (a temporary file renamed into place).
    async fn write_file(&self, dir: &std::path::Path, entry: &Entry) -> Result<(), String> {
        let text =
            serde_json::to_string_pretty(&self.received(entry)).map_err(|e| e.to_string())?;
        tokio::fs::create_dir_all(dir)
            .await
            .map_err(|e| e.to_string())?;
        let path = dir.join(format!("{}.json", entry.event_id));
        let partial = dir.join(format!(".{}.json.partial", entry.event_id));
        tokio::fs::write(&partial, text)
            .await
            .map_err(|e| e.to_string())?;
        tokio::fs::rename(&partial, &path)
            .await
            .map_err(|e| e.to_string())
    }
}

/// One `PutEvents` call. A failed call fails every entry; otherwise EventBridge answers one
/// result per entry, in order, with an `ErrorCode` for each that failed.
async fn put_events(
    client: &aws_sdk_eventbridge::Client,
    bus: &str,
    source: &str,
    entries: &[Entry],
) -> Vec<Result<(), String>> {
    use aws_sdk_eventbridge::types::PutEventsRequestEntry;
    let request: Vec<PutEventsRequestEntry> = entries
        .iter()
        .map(|entry| {
            PutEventsRequestEntry::builder()
                .event_bus_name(bus)
                .source(source)
                .detail_type(entry.detail_type)
                .time(aws_sdk_eventbridge::primitives::DateTime::from_millis(
                    entry.time.timestamp_millis(),
                ))
                .detail(Value::Object(entry.detail.clone()).to_string())
                .build()
        })
        .collect();
    match client.put_events().set_entries(Some(request)).send().await {
        Err(error) => {
            let error = aws_sdk_eventbridge::Error::from(error).to_string();
            entries.iter().map(|_| Err(error.clone())).collect()
        }
        Ok(output) => {
            let results = output.entries();
            entries
                .iter()
                .enumerate()
                .map(|(i, _)| match results.get(i) {
                    Some(result) if result.error_code().is_none() => Ok(()),
                    Some(result) => Err(format!(
                        "{}: {}",
                        result.error_code().unwrap_or_default(),
                        result.error_message().unwrap_or_default()
                    )),
                    None => Err("EventBridge answered no result for this entry".to_owned()),
                })
                .collect()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::activity::{Actor, DetailType};
    use crate::domain::organisation::tests_support::organisation;

    fn outbound() -> Outbound {
        Outbound::new(&organisation(), &Actor::system(), Utc::now())
            .event(
                DetailType::OrganisationUpdated,
                serde_json::json!({"changedFields": ["organisationType"], "revision": 99}),
            )
            .event(
                DetailType::OrganisationTypeChanged,
                serde_json::json!({"organisationType": "TRIAL"}),
            )
    }

    #[test]
    fn event_ids_derive_from_identity_revision_and_position() {
        let identity = Uuid::new_v4();
        assert_eq!(event_id(identity, 7, 0), event_id(identity, 7, 0));
        let ids: BTreeSet<Uuid> = [
            event_id(identity, 7, 0),
            event_id(identity, 7, 1),
            event_id(identity, 8, 0),
            event_id(Uuid::new_v4(), 7, 0),
        ]
        .into();
        assert_eq!(ids.len(), 4);
    }

    #[test]
    fn entries_carry_the_common_fields_first_and_in_order() {
        let outbound = outbound();
        let entries = entries(3, &outbound);
        assert_eq!(entries.len(), 2);
        assert_eq!(entries[0].record, 3);
        assert_eq!(entries[1].detail_type, "OrganisationTypeChanged");
        let detail = &entries[0].detail;
        assert_eq!(
            detail["eventId"],
            event_id(outbound.organisation_identity, outbound.revision, 0).to_string()
        );
        // A field of the type never replaces a common one.
        assert_eq!(detail["revision"], outbound.revision);
        assert_eq!(detail["actor"]["type"], "system");
        assert_eq!(detail["changedFields"][0], "organisationType");
        assert_eq!(
            entries[1].event_id,
            event_id(outbound.organisation_identity, outbound.revision, 1)
        );
    }
}

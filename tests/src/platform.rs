//! Platform events as the `platform-events` function receives them: SQS batches whose message
//! bodies are EventBridge events. `tests/events/` holds one such batch per event type.

use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{json, Value};
use shared::domain::ledger::ResourceLedger;
use shared::domain::platform::EventKind;
use shared::domain::Slug;
use shared::platform_events::SqsEvent;
use shared::storage::entities::from_item;
use shared::storage::keys::Key;
use shared::App;

use crate::dynamodb::repo_root;
use crate::TestEnv;

/// The fixture's file name for `kind`: `ClusterCreated` → `cluster-created`.
pub fn fixture_name(kind: EventKind) -> String {
    let mut name = String::new();
    for (i, c) in kind.detail_type().chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            name.push('-');
        }
        name.push(c.to_ascii_lowercase());
    }
    name
}

/// `tests/events/<name>.json` as JSON.
pub fn fixture_json(name: &str) -> Value {
    let path = repo_root()
        .join("tests/events")
        .join(format!("{name}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// The fixture's batch, unchanged (its events name the organisation `acme-cloud`).
pub fn fixture(name: &str) -> SqsEvent {
    serde_json::from_value(fixture_json(name)).expect("a fixture is an SQS event")
}

/// The fixture's EventBridge event (the body of its one message).
pub fn fixture_body(name: &str) -> Value {
    let body = fixture_json(name)["Records"][0]["body"]
        .as_str()
        .expect("a message body")
        .to_owned();
    serde_json::from_str(&body).expect("the body is JSON")
}

/// An EventBridge event of `kind` about `slug`'s resource, at `occurred_at` (RFC 3339);
/// `detail` adds the kind's own fields (resource id, sizes, quotas).
pub fn event(kind: EventKind, slug: &str, occurred_at: &str, detail: Value) -> String {
    let mut full = json!({
        "organisationSlug": slug,
        "organisationIdentity": FIXTURE_IDENTITY,
        "occurredAt": occurred_at,
    });
    if let (Some(full), Value::Object(extra)) = (full.as_object_mut(), detail) {
        full.extend(extra);
    }
    json!({
        "version": "0",
        "id": uuid::Uuid::new_v4().to_string(),
        "detail-type": kind.detail_type(),
        "source": kind.source(),
        "account": "123456789012",
        "time": occurred_at,
        "region": "eu-west-1",
        "resources": [],
        "detail": full,
    })
    .to_string()
}

/// An SQS batch of `bodies`; the message ids are returned in the same order.
pub fn batch(bodies: impl IntoIterator<Item = String>) -> (SqsEvent, Vec<String>) {
    static NEXT: AtomicU64 = AtomicU64::new(1);
    let mut ids = Vec::new();
    let records: Vec<Value> = bodies
        .into_iter()
        .map(|body| {
            let id = format!("msg-{}", NEXT.fetch_add(1, Ordering::SeqCst));
            ids.push(id.clone());
            json!({
                "messageId": id,
                "receiptHandle": format!("handle-{id}"),
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1"},
                "messageAttributes": {},
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:eu-west-1:123456789012:organisations-platform-events",
                "awsRegion": "eu-west-1"
            })
        })
        .collect();
    let event = serde_json::from_value(json!({"Records": records})).expect("an SQS event");
    (event, ids)
}

/// The identity the fixtures (and [`event`]) give the organisation they name: the one
/// `tests/it/fixtures.rs` seeds for `acme-cloud`.
pub const FIXTURE_IDENTITY: &str = "6f1c2d3e-0000-4000-8000-000000000001";

/// Binds events that carry [`FIXTURE_IDENTITY`] to the organisation that holds their slug in
/// this test's table (tests create their organisations through the API, with new identities).
/// Events with any other identity are delivered as they are.
/// The lookup uses a client of its own, so that it does not count as one of the function's
/// round trips.
async fn bind_identities(app: &App, mut batch: SqsEvent) -> SqsEvent {
    let store = shared::storage::Store::new(
        crate::client(&crate::dynamodb::endpoint(), None, None),
        app.store.table(),
    );
    for record in &mut batch.records {
        let Some(mut body) = record
            .body
            .as_deref()
            .and_then(|b| serde_json::from_str::<Value>(b).ok())
        else {
            continue;
        };
        let detail = &mut body["detail"];
        if detail["organisationIdentity"] != FIXTURE_IDENTITY {
            continue;
        }
        let Some(slug) = detail["organisationSlug"]
            .as_str()
            .and_then(|s| Slug::parse(s).ok())
        else {
            continue;
        };
        if let Ok(Some(organisation)) = store.organisation(&slug).await {
            detail["organisationIdentity"] = json!(organisation.identity.to_string());
            record.body = Some(body.to_string());
        }
    }
    batch
}

/// Delivers `batch` to the `platform-events` function; returns the ids of the failed messages.
pub async fn deliver(app: &App, batch: SqsEvent) -> Vec<String> {
    let batch = bind_identities(app, batch).await;
    platform_events::handle(app, batch)
        .await
        .batch_item_failures
        .into_iter()
        .map(|f| f.item_identifier)
        .collect()
}

/// Delivers `bodies` as one batch; returns the ids of the failed messages and all ids.
pub async fn deliver_bodies(
    app: &App,
    bodies: impl IntoIterator<Item = String>,
) -> (Vec<String>, Vec<String>) {
    let (event, ids) = batch(bodies);
    (deliver(app, event).await, ids)
}

/// The organisation's `LEDGER` item as stored (all zero when there is none).
pub async fn ledger(env: &TestEnv, slug: &str) -> ResourceLedger {
    env.store()
        .get(Key::ledger(&Slug::parse(slug).expect("a slug")))
        .await
        .expect("read the ledger")
        .map(from_item)
        .transpose()
        .expect("the ledger maps")
        .unwrap_or_default()
}

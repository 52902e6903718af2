//! A fake EventBridge (`PutEvents`, AWS JSON 1.1 over HTTP on loopback) that the SDK client is
//! pointed at with an endpoint URL: it records every entry it accepts and fails the entries the
//! test chooses (by `detail.eventId`, a number of times or always), as EventBridge reports
//! failed entries: HTTP 200, `FailedEntryCount`, an `ErrorCode` in the entry's result.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_sdk_eventbridge::config::{BehaviorVersion, Credentials, Region};
use serde_json::{json, Value};
use shared::publisher::{Publisher, Sink, DEFAULT_SOURCE};

use crate::fake_http::{serve, FakeResponse};

/// An entry the fake accepted, with its `Detail` parsed.
#[derive(Debug, Clone)]
pub struct PutEntry {
    pub source: String,
    pub detail_type: String,
    pub bus: String,
    pub time: Option<f64>,
    pub detail: Value,
}

impl PutEntry {
    pub fn event_id(&self) -> String {
        self.detail["eventId"]
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }
}

#[derive(Debug, Default)]
struct State {
    accepted: Vec<PutEntry>,
    calls: usize,
    /// eventId → failures left (`u32::MAX`: always).
    failing: HashMap<String, u32>,
    rejected: usize,
}

#[derive(Debug, Clone)]
pub struct FakeEventBridge {
    pub url: String,
    state: Arc<Mutex<State>>,
}

/// The bus the tests' publisher puts on.
pub const TEST_BUS: &str = "organisations-test-events";

impl FakeEventBridge {
    pub async fn start() -> Self {
        let state: Arc<Mutex<State>> = Arc::default();
        let shared = state.clone();
        let url = serve(move |request| {
            let body: Value = serde_json::from_str(&request.body).unwrap_or(Value::Null);
            let mut state = shared.lock().expect("state");
            state.calls += 1;
            let mut results = Vec::new();
            let mut failed = 0;
            for entry in body["Entries"].as_array().cloned().unwrap_or_default() {
                let detail: Value = entry["Detail"]
                    .as_str()
                    .and_then(|d| serde_json::from_str(d).ok())
                    .unwrap_or(Value::Null);
                let id = detail["eventId"].as_str().unwrap_or_default().to_owned();
                let fail = match state.failing.get_mut(&id) {
                    Some(left) if *left > 0 => {
                        if *left != u32::MAX {
                            *left -= 1;
                        }
                        true
                    }
                    _ => false,
                };
                if fail {
                    failed += 1;
                    state.rejected += 1;
                    results.push(json!({"ErrorCode": "InternalFailure",
                                        "ErrorMessage": "injected by the test"}));
                } else {
                    state.accepted.push(PutEntry {
                        source: entry["Source"].as_str().unwrap_or_default().to_owned(),
                        detail_type: entry["DetailType"].as_str().unwrap_or_default().to_owned(),
                        bus: entry["EventBusName"]
                            .as_str()
                            .unwrap_or_default()
                            .to_owned(),
                        time: entry["Time"].as_f64(),
                        detail,
                    });
                    results.push(json!({"EventId": uuid::Uuid::new_v4().to_string()}));
                }
            }
            let mut response = FakeResponse::json(
                200,
                json!({"FailedEntryCount": failed, "Entries": results}).to_string(),
            );
            response.content_type = "application/x-amz-json-1.1";
            response
        })
        .await;
        Self { url, state }
    }

    /// The entry with `event_id` fails its next `times` puts (`u32::MAX`: every put).
    pub fn fail(&self, event_id: &str, times: u32) {
        self.state
            .lock()
            .expect("state")
            .failing
            .insert(event_id.to_owned(), times);
    }

    /// Every entry puts again.
    pub fn heal(&self) {
        self.state.lock().expect("state").failing.clear();
    }

    /// The entries accepted so far, in order.
    pub fn accepted(&self) -> Vec<PutEntry> {
        self.state.lock().expect("state").accepted.clone()
    }

    /// `PutEvents` calls so far.
    pub fn calls(&self) -> usize {
        self.state.lock().expect("state").calls
    }

    /// Entries failed so far.
    pub fn rejected(&self) -> usize {
        self.state.lock().expect("state").rejected
    }

    /// Forgets what was accepted and counted.
    pub fn reset(&self) {
        let mut state = self.state.lock().expect("state");
        state.accepted.clear();
        state.calls = 0;
        state.rejected = 0;
    }

    /// An EventBridge client for this fake.
    pub fn client(&self) -> aws_sdk_eventbridge::Client {
        let config = aws_sdk_eventbridge::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
            .endpoint_url(&self.url)
            .build();
        aws_sdk_eventbridge::Client::from_conf(config)
    }

    /// The publisher as the function builds it, putting on [`TEST_BUS`] through this fake (its
    /// retries of failed entries only 5 ms apart).
    pub fn publisher(&self) -> Publisher {
        let mut publisher = Publisher::new(
            Sink::EventBridge {
                client: self.client(),
                bus: TEST_BUS.to_owned(),
            },
            DEFAULT_SOURCE,
        );
        publisher.retry_delay = std::time::Duration::from_millis(5);
        publisher
    }
}

//! Outbound events in the tests: the test table's DynamoDB stream on DynamoDB Local, read with
//! the local stream pump's reader (`devtools::stream`) and turned into the Lambda
//! DynamoDB-stream events the `event-publisher` function receives; the JSON Schemas of
//! `docs/events/`.

pub mod eventbridge;

use aws_sdk_dynamodbstreams::config::{BehaviorVersion, Credentials, Region};
use devtools::stream::{batches, lambda_event, stream_arn, Start, StreamReader};
use serde_json::Value;
use shared::publisher::StreamEvent;

use crate::dynamodb::repo_root;
use crate::TestEnv;

/// Reads the test table's stream from its start.
pub struct StreamTap {
    reader: StreamReader,
}

impl StreamTap {
    pub async fn new(env: &TestEnv) -> Self {
        let arn = stream_arn(env.store().client(), &env.table)
            .await
            .expect("describe the test table")
            .expect("the test table has a stream (schema::create_table enables it)");
        let config = aws_sdk_dynamodbstreams::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(Credentials::new("local", "local", None, None, "tests"))
            .endpoint_url(&env.endpoint)
            .build();
        let client = aws_sdk_dynamodbstreams::Client::from_conf(config);
        Self {
            reader: StreamReader::new(client, &arn, Start::TrimHorizon),
        }
    }

    /// The records written since the last call, unfiltered, in the Lambda event's shape.
    pub async fn records(&mut self) -> Vec<Value> {
        self.reader.poll().await.expect("read the stream")
    }

    /// The records written since the last call that the event source mapping's filter passes,
    /// as one Lambda event (the tests keep batches under 100 records).
    pub async fn batch(&mut self) -> StreamEvent {
        let records = self.records().await;
        let passed: Vec<Value> = batches(&records).into_iter().flatten().collect();
        lambda_event(passed).expect("a DynamoDB stream event")
    }
}

/// The JSON Schema of a `detail-type` (`docs/events/<DetailType>.json`).
pub fn schema(detail_type: &str) -> Value {
    let path = repo_root()
        .join("docs/events")
        .join(format!("{detail_type}.json"));
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path:?}: {e}"));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{path:?}: {e}"))
}

/// The schema's complaints about `detail` (none: it validates).
pub fn schema_errors(detail_type: &str, detail: &Value) -> Vec<String> {
    let schema = schema(detail_type);
    let validator = jsonschema::validator_for(&schema)
        .unwrap_or_else(|e| panic!("docs/events/{detail_type}.json is no valid schema: {e}"));
    validator
        .iter_errors(detail)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

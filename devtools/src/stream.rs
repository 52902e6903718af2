//! A table's DynamoDB stream, read shard by shard, and its records as the `event-publisher`
//! function receives them from its event source mapping: the Lambda DynamoDB-stream event
//! shape, passed through the same filter as in `template.yaml` (insertions of the items that
//! publish, `shared::storage::entities::PUBLISHED_ENTITIES`).

use std::collections::{BTreeMap, BTreeSet};

use aws_sdk_dynamodbstreams::types::{AttributeValue, Record, ShardIteratorType};
use base64::Engine;
use serde_json::{json, Map, Value};
use shared::publisher::StreamEvent;
use shared::storage::entities::{ENTITY, PUBLISHED_ENTITIES};

pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The most records the event source mapping hands the function at once (`BatchSize`).
pub const BATCH_SIZE: usize = 100;

/// The table's stream ARN, if its stream is enabled.
pub async fn stream_arn(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<Option<String>, Error> {
    let table = dynamodb.describe_table().table_name(table).send().await?;
    Ok(table.table().and_then(|t| {
        let enabled = t.stream_specification().is_some_and(|s| s.stream_enabled());
        enabled
            .then(|| t.latest_stream_arn().map(str::to_owned))
            .flatten()
    }))
}

/// The table's stream ARN, enabling the stream first on a table created before it had one.
pub async fn ensure_stream(
    dynamodb: &aws_sdk_dynamodb::Client,
    table: &str,
) -> Result<String, Error> {
    if let Some(arn) = stream_arn(dynamodb, table).await? {
        return Ok(arn);
    }
    dynamodb
        .update_table()
        .table_name(table)
        .stream_specification(shared::storage::schema::stream_specification())
        .send()
        .await?;
    stream_arn(dynamodb, table)
        .await?
        .ok_or_else(|| format!("table {table} has no stream after enabling it").into())
}

/// Where a reader starts in shards it finds when it starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The oldest record the stream still holds (24 hours).
    TrimHorizon,
    /// Only records written from now on.
    Latest,
}

/// Reads every shard of one stream, in order per shard. Shards that appear later are read from
/// their start; closed shards are dropped once read to their end.
#[derive(Debug)]
pub struct StreamReader {
    client: aws_sdk_dynamodbstreams::Client,
    arn: String,
    region: String,
    start: Start,
    /// Open shards and their next iterator (`None`: not asked for yet).
    shards: BTreeMap<String, Option<String>>,
    /// Shards read to their end.
    finished: BTreeSet<String>,
    first_describe: bool,
}

impl StreamReader {
    pub fn new(client: aws_sdk_dynamodbstreams::Client, arn: &str, start: Start) -> Self {
        let region = client
            .config()
            .region()
            .map_or_else(|| "eu-west-1".to_owned(), ToString::to_string);
        Self {
            client,
            arn: arn.to_owned(),
            region,
            start,
            shards: BTreeMap::new(),
            finished: BTreeSet::new(),
            first_describe: true,
        }
    }

    /// Reads each shard until it has nothing more for now; returns the records in the Lambda
    /// event shape, unfiltered, in stream order per shard.
    pub async fn poll(&mut self) -> Result<Vec<Value>, Error> {
        self.describe().await?;
        let mut records = Vec::new();
        let shard_ids: Vec<String> = self.shards.keys().cloned().collect();
        for shard in shard_ids {
            loop {
                let iterator = match self.shards.get(&shard).cloned().flatten() {
                    Some(iterator) => iterator,
                    None => {
                        let kind = match self.start {
                            Start::Latest => ShardIteratorType::Latest,
                            Start::TrimHorizon => ShardIteratorType::TrimHorizon,
                        };
                        let output = self
                            .client
                            .get_shard_iterator()
                            .stream_arn(&self.arn)
                            .shard_id(&shard)
                            .shard_iterator_type(kind)
                            .send()
                            .await?;
                        match output.shard_iterator {
                            Some(iterator) => iterator,
                            None => break,
                        }
                    }
                };
                let output = self
                    .client
                    .get_records()
                    .shard_iterator(&iterator)
                    .limit(1000)
                    .send()
                    .await?;
                let got = output.records().len();
                records.extend(
                    output
                        .records()
                        .iter()
                        .map(|r| lambda_record(r, &self.arn, &self.region)),
                );
                match output.next_shard_iterator {
                    Some(next) => {
                        self.shards.insert(shard.clone(), Some(next));
                        if got == 0 {
                            break;
                        }
                    }
                    None => {
                        self.shards.remove(&shard);
                        self.finished.insert(shard.clone());
                        break;
                    }
                }
            }
        }
        Ok(records)
    }

    /// Learns the stream's shards. Shards found after the first look are read from their start,
    /// whatever [`Start`] says: they hold only records written since.
    async fn describe(&mut self) -> Result<(), Error> {
        let mut start: Option<String> = None;
        loop {
            let output = self
                .client
                .describe_stream()
                .stream_arn(&self.arn)
                .set_exclusive_start_shard_id(start.take())
                .send()
                .await?;
            let Some(description) = output.stream_description else {
                break;
            };
            for shard in description.shards() {
                let Some(id) = shard.shard_id() else { continue };
                if self.finished.contains(id) || self.shards.contains_key(id) {
                    continue;
                }
                if self.first_describe {
                    self.shards.insert(id.to_owned(), None);
                } else {
                    let output = self
                        .client
                        .get_shard_iterator()
                        .stream_arn(&self.arn)
                        .shard_id(id)
                        .shard_iterator_type(ShardIteratorType::TrimHorizon)
                        .send()
                        .await?;
                    match output.shard_iterator {
                        Some(iterator) => {
                            self.shards.insert(id.to_owned(), Some(iterator));
                        }
                        None => {
                            self.finished.insert(id.to_owned());
                        }
                    }
                }
            }
            match description.last_evaluated_shard_id {
                Some(last) => start = Some(last),
                None => break,
            }
        }
        self.first_describe = false;
        Ok(())
    }
}

/// The event source mapping's filter (`FilterCriteria` of `template.yaml`): insertions of the
/// items that publish.
pub fn passes_filter(record: &Value) -> bool {
    record["eventName"] == "INSERT"
        && PUBLISHED_ENTITIES
            .iter()
            .any(|entity| record["dynamodb"]["NewImage"][ENTITY]["S"] == *entity)
}

/// The records that pass [`passes_filter`], as events of at most [`BATCH_SIZE`] records.
pub fn batches(records: &[Value]) -> Vec<Vec<Value>> {
    let passed: Vec<Value> = records
        .iter()
        .filter(|r| passes_filter(r))
        .cloned()
        .collect();
    passed.chunks(BATCH_SIZE).map(<[Value]>::to_vec).collect()
}

/// A Lambda DynamoDB-stream event of `records`.
pub fn lambda_event(records: Vec<Value>) -> Result<StreamEvent, serde_json::Error> {
    serde_json::from_value(json!({ "Records": records }))
}

/// A stream record as the event source mapping delivers it (`Records[]` of the Lambda event).
pub fn lambda_record(record: &Record, stream_arn: &str, region: &str) -> Value {
    let change = record.dynamodb();
    let image = |item: Option<&std::collections::HashMap<String, AttributeValue>>| {
        item.map(|item| {
            Value::Object(
                item.iter()
                    .map(|(name, value)| (name.clone(), attribute(value)))
                    .collect(),
            )
        })
    };
    let mut dynamodb = Map::new();
    if let Some(at) = change.and_then(|c| c.approximate_creation_date_time()) {
        dynamodb.insert(
            "ApproximateCreationDateTime".into(),
            json!(at.as_secs_f64().floor()),
        );
    }
    for (name, value) in [
        ("Keys", image(change.and_then(|c| c.keys.as_ref()))),
        ("NewImage", image(change.and_then(|c| c.new_image.as_ref()))),
        ("OldImage", image(change.and_then(|c| c.old_image.as_ref()))),
    ] {
        if let Some(value) = value {
            dynamodb.insert(name.into(), value);
        }
    }
    dynamodb.insert(
        "SequenceNumber".into(),
        json!(change.and_then(|c| c.sequence_number())),
    );
    dynamodb.insert(
        "SizeBytes".into(),
        json!(change.and_then(|c| c.size_bytes()).unwrap_or(0)),
    );
    dynamodb.insert(
        "StreamViewType".into(),
        json!(change
            .and_then(|c| c.stream_view_type())
            .map(|t| t.as_str().to_owned())),
    );
    json!({
        "eventID": record.event_id(),
        "eventName": record.event_name().map(|n| n.as_str().to_owned()),
        "eventVersion": record.event_version(),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    })
}

/// An attribute value in DynamoDB's JSON notation (`{"S": "..."}`, `{"N": "1"}`, ...).
fn attribute(value: &AttributeValue) -> Value {
    let base64 = |bytes: &aws_sdk_dynamodbstreams::primitives::Blob| {
        base64::engine::general_purpose::STANDARD.encode(bytes.as_ref())
    };
    match value {
        AttributeValue::S(s) => json!({ "S": s }),
        AttributeValue::N(n) => json!({ "N": n }),
        AttributeValue::B(b) => json!({ "B": base64(b) }),
        AttributeValue::Bool(b) => json!({ "BOOL": b }),
        AttributeValue::Null(_) => json!({ "NULL": true }),
        AttributeValue::Ss(list) => json!({ "SS": list }),
        AttributeValue::Ns(list) => json!({ "NS": list }),
        AttributeValue::Bs(list) => json!({ "BS": list.iter().map(base64).collect::<Vec<_>>() }),
        AttributeValue::L(list) => json!({ "L": list.iter().map(attribute).collect::<Vec<_>>() }),
        AttributeValue::M(map) => json!({
            "M": map
                .iter()
                .map(|(name, value)| (name.clone(), attribute(value)))
                .collect::<Map<String, Value>>()
        }),
        _ => json!({ "NULL": true }),
    }
}

/// A DynamoDB Streams client for the same endpoint as DynamoDB (DynamoDB Local serves both):
/// `AWS_ENDPOINT_URL_DYNAMODB_STREAMS`, else `AWS_ENDPOINT_URL_DYNAMODB`, else AWS.
pub fn streams_client(config: &aws_config::SdkConfig) -> aws_sdk_dynamodbstreams::Client {
    let mut builder = aws_sdk_dynamodbstreams::config::Builder::from(config);
    let endpoint = std::env::var("AWS_ENDPOINT_URL_DYNAMODB_STREAMS")
        .or_else(|_| std::env::var("AWS_ENDPOINT_URL_DYNAMODB"))
        .ok()
        .filter(|e| !e.is_empty());
    if let Some(endpoint) = endpoint {
        builder = builder.endpoint_url(endpoint);
    }
    aws_sdk_dynamodbstreams::Client::from_conf(builder.build())
}

//! The table's definition, in one place: local table creation and the tests use it, and
//! `tests/it/contract.rs` proves that `template.yaml` declares the same table. Table creation
//! (devtools, tests) builds its requests from constants: a builder that fails here is a bug of
//! this file, not a condition to handle, hence its `expect`s.
#![allow(clippy::expect_used)]

use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType,
    TimeToLiveSpecification,
};
use aws_sdk_dynamodb::Client;

use super::keys::{PK, SK};

/// A global secondary index with string hash and range keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Index {
    pub name: &'static str,
    pub partition_key: &'static str,
    pub sort_key: &'static str,
    pub projection: &'static str,
}

/// Sparse index of work that is due at a time (`gsi1pk` = `<queue>#<shard>`, `gsi1sk` = due
/// time, RFC 3339). Only items that carry both attributes appear in it.
pub const GSI1: Index = Index {
    name: "gsi1",
    partition_key: "gsi1pk",
    sort_key: "gsi1sk",
    projection: "ALL",
};

pub const INDEXES: &[Index] = &[GSI1];

/// Epoch seconds after which DynamoDB may delete an item. TTL deletion is lazy: readers check it.
pub const TTL_ATTRIBUTE: &str = "expires_at";

/// The table's stream: new images, which the `event-publisher` function publishes from
/// (docs/events.md). Items are published from their insertion, so the old image is not needed.
pub const STREAM_VIEW_TYPE: &str = "NEW_IMAGE";

/// The stream as created here and declared in `template.yaml`.
pub fn stream_specification() -> StreamSpecification {
    StreamSpecification::builder()
        .stream_enabled(true)
        .stream_view_type(StreamViewType::from(STREAM_VIEW_TYPE))
        .build()
        .expect("stream enabled is set")
}

fn key(name: &str, key_type: KeyType) -> KeySchemaElement {
    KeySchemaElement::builder()
        .attribute_name(name)
        .key_type(key_type)
        .build()
        .expect("attribute name and key type are set")
}

fn string_attribute(name: &str) -> AttributeDefinition {
    AttributeDefinition::builder()
        .attribute_name(name)
        .attribute_type(ScalarAttributeType::S)
        .build()
        .expect("attribute name and type are set")
}

/// Creates the table (on-demand) with its indexes, TTL and stream, as `template.yaml` declares
/// it.
pub async fn create_table(client: &Client, table: &str) -> Result<(), aws_sdk_dynamodb::Error> {
    let mut request = client
        .create_table()
        .table_name(table)
        .billing_mode(BillingMode::PayPerRequest)
        .key_schema(key(PK, KeyType::Hash))
        .key_schema(key(SK, KeyType::Range))
        .attribute_definitions(string_attribute(PK))
        .attribute_definitions(string_attribute(SK))
        .stream_specification(stream_specification());
    for index in INDEXES {
        request = request
            .attribute_definitions(string_attribute(index.partition_key))
            .attribute_definitions(string_attribute(index.sort_key))
            .global_secondary_indexes(
                GlobalSecondaryIndex::builder()
                    .index_name(index.name)
                    .key_schema(key(index.partition_key, KeyType::Hash))
                    .key_schema(key(index.sort_key, KeyType::Range))
                    .projection(
                        Projection::builder()
                            .projection_type(ProjectionType::from(index.projection))
                            .build(),
                    )
                    .build()
                    .expect("index name, keys and projection are set"),
            );
    }
    request.send().await?;
    client
        .update_time_to_live()
        .table_name(table)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build()
                .expect("TTL attribute is set"),
        )
        .send()
        .await?;
    Ok(())
}

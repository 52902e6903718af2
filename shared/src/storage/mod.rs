//! DynamoDB access: one table (see [`keys`] for the layout and access patterns), items mapped
//! with serde_dynamo, writes as single transactions with their conditions.

//! DynamoDB access: one table (keys and access patterns in [`keys`], item types in
//! [`entities`]), items mapped with serde_dynamo. Every change to an organisation goes through
//! one write path ([`write`](mod@write)): a read, a pure decision, one TransactWriteItems under the
//! revision guard, and conflicts retried in one place ([`retry`]).
//!
//! This is the only module that knows DynamoDB: nothing above it names an SDK type or builds a
//! key string.

pub mod activity;
pub mod backfill;
pub mod entities;
pub mod keys;
pub mod members;
pub mod memberships;
pub mod organisations;
pub mod retry;
pub mod schema;
pub mod sweep;
pub mod vat_schedule;
pub mod write;

use std::collections::HashMap;

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
pub use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::types::{
    ConditionCheck, Delete, KeysAndAttributes, Put, TransactWriteItem, WriteRequest,
};
use aws_sdk_dynamodb::Client;

use crate::domain::change::Refusal;

pub type Item = HashMap<String, AttributeValue>;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// Another writer got there first: what a decision rested on has changed since it was
    /// read, or DynamoDB reported a transaction conflict. The read-decide-write is safe to
    /// run again ([`Store::decide_and_write`] does).
    #[error("concurrent change; retry")]
    Conflict,
    /// The change cannot be written as it is, for this reason.
    #[error("change refused: {0:?}")]
    Refused(Refusal),
    /// Conditions of these items of the transaction (by index) did not hold.
    #[error("transaction conditions failed at {0:?}")]
    ConditionFailed(Vec<usize>),
    /// A change that cannot be expressed (a bug, not a request's fault).
    #[error("invalid change: {0}")]
    InvalidChange(&'static str),
    #[error("DynamoDB request failed: {0}")]
    Sdk(#[from] Box<aws_sdk_dynamodb::Error>),
    /// DynamoDB could not take the request now: throttled (`ThrottlingException`,
    /// `ProvisionedThroughputExceededException`, `RequestLimitExceeded`, a transaction item's
    /// `ThrottlingError`), a timeout, or no connection. Nothing of the request was written
    /// (one TransactWriteItems is all or nothing); the caller may retry later.
    #[error("DynamoDB unavailable: {0}")]
    Unavailable(Box<aws_sdk_dynamodb::Error>),
    #[error("item does not map: {0}")]
    Mapping(#[from] serde_dynamo::Error),
}

/// The error codes of DynamoDB refusing a request for load, not for what it asks (DynamoDB
/// Developer Guide, "Error handling with DynamoDB": throttling and request-limit errors are
/// retryable; the SDK has retried them already when they reach us).
const UNAVAILABLE_CODES: [&str; 3] = [
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
];

pub(crate) fn sdk<E, R>(error: SdkError<E, R>) -> StoreError
where
    aws_sdk_dynamodb::Error: From<SdkError<E, R>>,
    E: aws_sdk_dynamodb::error::ProvideErrorMetadata,
{
    let unavailable = match &error {
        SdkError::TimeoutError(_) | SdkError::DispatchFailure(_) | SdkError::ResponseError(_) => {
            true
        }
        SdkError::ServiceError(service) => service
            .err()
            .code()
            .is_some_and(|code| UNAVAILABLE_CODES.contains(&code)),
        _ => false,
    };
    let error = Box::new(aws_sdk_dynamodb::Error::from(error));
    if unavailable {
        StoreError::Unavailable(error)
    } else {
        StoreError::Sdk(error)
    }
}

/// The table, and the client to reach it. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Store {
    client: Client,
    table: String,
}

fn s(value: impl Into<String>) -> AttributeValue {
    AttributeValue::S(value.into())
}

fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

impl Store {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// The table `table`, reached with the SDK configuration `config`.
    pub fn from_config(config: &aws_config::SdkConfig, table: impl Into<String>) -> Self {
        Self::new(Client::new(config), table)
    }

    /// The SDK client, for tests that reach DynamoDB directly (feature `test-util`).
    #[cfg(any(test, feature = "test-util"))]
    pub fn client(&self) -> &Client {
        &self.client
    }

    pub fn table(&self) -> &str {
        &self.table
    }

    // --- building transaction items -------------------------------------------------------

    fn put(
        &self,
        item: Item,
        condition: Option<Condition>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut put = Put::builder().table_name(&self.table).set_item(Some(item));
        if let Some(c) = condition {
            put = c.apply_put(put);
        }
        let put = put
            .build()
            .map_err(|_| StoreError::InvalidChange("put without an item"))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }

    fn delete(
        &self,
        key: Item,
        condition: Option<Condition>,
    ) -> Result<TransactWriteItem, StoreError> {
        let mut delete = Delete::builder().table_name(&self.table).set_key(Some(key));
        if let Some(c) = condition {
            delete = c.apply_delete(delete);
        }
        let delete = delete
            .build()
            .map_err(|_| StoreError::InvalidChange("delete without a key"))?;
        Ok(TransactWriteItem::builder().delete(delete).build())
    }

    fn check(&self, key: Item, condition: Condition) -> Result<TransactWriteItem, StoreError> {
        let check = condition
            .apply_check(
                ConditionCheck::builder()
                    .table_name(&self.table)
                    .set_key(Some(key)),
            )
            .build()
            .map_err(|_| StoreError::InvalidChange("condition check without a key"))?;
        Ok(TransactWriteItem::builder().condition_check(check).build())
    }

    // --- round trips ----------------------------------------------------------------------

    /// One TransactWriteItems. Failed conditions come back as [`StoreError::ConditionFailed`]
    /// with their indexes; DynamoDB's transaction conflicts as [`StoreError::Conflict`] (the
    /// SDK does not retry those: the one retry loop, [`Store::decide_and_write`], does).
    async fn transact(&self, items: Vec<TransactWriteItem>) -> Result<(), StoreError> {
        let result = self
            .client
            .transact_write_items()
            .set_transact_items(Some(items))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error) => match error.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    let reasons = cancelled.cancellation_reasons();
                    let code = |r: &aws_sdk_dynamodb::types::CancellationReason| {
                        r.code().unwrap_or_default().to_owned()
                    };
                    if reasons.iter().any(|r| code(r) == "TransactionConflict") {
                        return Err(StoreError::Conflict);
                    }
                    if reasons.iter().any(|r| code(r) == "ThrottlingError") {
                        return Err(StoreError::Unavailable(Box::new(error.into())));
                    }
                    let failed: Vec<usize> = reasons
                        .iter()
                        .enumerate()
                        .filter(|(_, r)| code(r) == "ConditionalCheckFailed")
                        .map(|(i, _)| i)
                        .collect();
                    if failed.is_empty() {
                        Err(sdk(error))
                    } else {
                        Err(StoreError::ConditionFailed(failed))
                    }
                }
                Some(TransactWriteItemsError::TransactionInProgressException(_)) => {
                    Err(StoreError::Conflict)
                }
                _ => Err(sdk(error)),
            },
        }
    }

    /// Strongly consistent reads of any number of keys of any partitions: one BatchGetItem per
    /// 100 keys. Returns the items found.
    pub async fn get_all(&self, keys: Vec<keys::Key>) -> Result<Vec<Item>, StoreError> {
        let keys: Vec<Item> = keys.into_iter().map(keys::Key::into_item).collect();
        let mut found = Vec::with_capacity(keys.len());
        for chunk in keys.chunks(100) {
            found.extend(self.batch_get(chunk.to_vec()).await?);
        }
        Ok(found)
    }

    /// One BatchGetItem of at most 100 keys, with the keys DynamoDB left unprocessed retried.
    async fn batch_get(&self, keys: Vec<Item>) -> Result<Vec<Item>, StoreError> {
        let mut found = Vec::new();
        let mut pending = Some(
            KeysAndAttributes::builder()
                .set_keys(Some(keys))
                .consistent_read(true)
                .build()
                .map_err(|_| StoreError::InvalidChange("BatchGetItem without keys"))?,
        );
        let mut attempt = 0u32;
        while let Some(request) = pending.take() {
            let output = self
                .client
                .batch_get_item()
                .request_items(&self.table, request)
                .send()
                .await
                .map_err(sdk)?;
            found.extend(
                output
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default(),
            );
            pending = output
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .filter(|k| !k.keys().is_empty());
            if pending.is_some() {
                attempt += 1;
                retry::backoff(attempt).await;
            }
        }
        Ok(found)
    }

    /// BatchWriteItem in chunks of 25, until DynamoDB has processed every request (unprocessed
    /// ones are sent again after a backoff). Not atomic: for sweeps and seeding, never for a
    /// change users see.
    async fn write_batch(&self, requests: Vec<WriteRequest>) -> Result<(), StoreError> {
        for chunk in requests.chunks(25) {
            let mut pending = chunk.to_vec();
            let mut attempt = 0;
            while !pending.is_empty() {
                let output = self
                    .client
                    .batch_write_item()
                    .request_items(&self.table, pending)
                    .send()
                    .await
                    .map_err(sdk)?;
                pending = output
                    .unprocessed_items
                    .and_then(|mut u| u.remove(&self.table))
                    .unwrap_or_default();
                if !pending.is_empty() {
                    attempt += 1;
                    retry::backoff(attempt).await;
                }
            }
        }
        Ok(())
    }

    /// Every item a Query matches, following DynamoDB's 1 MB pages.
    async fn query_all(
        &self,
        query: aws_sdk_dynamodb::operation::query::builders::QueryFluentBuilder,
    ) -> Result<Vec<Item>, StoreError> {
        let mut items = Vec::new();
        let mut start: Option<Item> = None;
        loop {
            let page = query
                .clone()
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(sdk)?;
            items.extend(page.items.unwrap_or_default());
            match page.last_evaluated_key {
                Some(next) => start = Some(next),
                None => return Ok(items),
            }
        }
    }

    /// Strongly consistent GetItem.
    pub async fn get(&self, key: keys::Key) -> Result<Option<Item>, StoreError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key.into_item()))
            .consistent_read(true)
            .send()
            .await
            .map_err(sdk)?;
        Ok(output.item)
    }
}

/// A condition expression with its placeholders.
#[derive(Debug, Clone, Default)]
pub(crate) struct Condition {
    expression: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Condition {
    pub fn new(expression: impl Into<String>) -> Self {
        Self {
            expression: expression.into(),
            ..Self::default()
        }
    }

    /// The item does not exist.
    pub fn absent() -> Self {
        Self::new("attribute_not_exists(#pk)").name("#pk", keys::PK)
    }

    /// The item exists.
    pub fn present() -> Self {
        Self::new("attribute_exists(#pk)").name("#pk", keys::PK)
    }

    pub fn name(mut self, placeholder: &str, attribute: &str) -> Self {
        self.names
            .insert(placeholder.to_owned(), attribute.to_owned());
        self
    }

    pub fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.to_owned(), value);
        self
    }

    fn apply_put(
        self,
        builder: aws_sdk_dynamodb::types::builders::PutBuilder,
    ) -> aws_sdk_dynamodb::types::builders::PutBuilder {
        builder
            .condition_expression(self.expression)
            .set_expression_attribute_names(non_empty(self.names))
            .set_expression_attribute_values(non_empty(self.values))
    }

    fn apply_delete(
        self,
        builder: aws_sdk_dynamodb::types::builders::DeleteBuilder,
    ) -> aws_sdk_dynamodb::types::builders::DeleteBuilder {
        builder
            .condition_expression(self.expression)
            .set_expression_attribute_names(non_empty(self.names))
            .set_expression_attribute_values(non_empty(self.values))
    }

    /// Adds the condition to an update that may have placeholders of its own (added one by
    /// one: `set_expression_attribute_*` would replace the update's).
    fn apply_update(
        self,
        builder: aws_sdk_dynamodb::types::builders::UpdateBuilder,
    ) -> aws_sdk_dynamodb::types::builders::UpdateBuilder {
        let mut builder = builder.condition_expression(self.expression);
        for (placeholder, name) in self.names {
            builder = builder.expression_attribute_names(placeholder, name);
        }
        for (placeholder, value) in self.values {
            builder = builder.expression_attribute_values(placeholder, value);
        }
        builder
    }

    fn apply_check(
        self,
        builder: aws_sdk_dynamodb::types::builders::ConditionCheckBuilder,
    ) -> aws_sdk_dynamodb::types::builders::ConditionCheckBuilder {
        builder
            .condition_expression(self.expression)
            .set_expression_attribute_names(non_empty(self.names))
            .set_expression_attribute_values(non_empty(self.values))
    }
}

fn non_empty<V>(map: HashMap<String, V>) -> Option<HashMap<String, V>> {
    (!map.is_empty()).then_some(map)
}

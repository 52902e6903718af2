//! Removing a deleted organisation's partition, in bounded chunks that any later run resumes.
//!
//! A DELETE removes the profile and writes the `PURGE` marker in one transaction
//! (`decisions::delete_organisation`); from then on readers find no organisation, and the marker
//! keeps the slug reserved (a create checks it absent). What is left of the partition is swept:
//!
//! - [`Store::sweep_partition`]: Query one chunk of keys (`Limit`, keys only, strongly
//!   consistent), BatchWriteItem them away (25 per request, a few requests in flight, unprocessed
//!   items sent again), until the partition holds nothing but the marker or the [`Budget`] is
//!   spent. Nothing needs remembering between runs: what remains is what is left to do.
//! - The marker goes last, and only when a strongly consistent Query finds nothing else in the
//!   partition. Nothing can be written there meanwhile: every change of an organisation is
//!   guarded by its profile (revision or existence), which is gone, and a create by the
//!   marker's absence. So the slug is freed exactly when the partition is empty.
//! - [`Store::sweep_pending`]: the scheduled sweeper (`functions/purge-sweeper`) finds the
//!   markers in `gsi1` (`gsi1pk = PURGE`, oldest deletion first; no table scan) and sweeps
//!   their partitions one after the other within one budget.
//!
//! Sweeps may run concurrently (the DELETE's own and the sweeper's): deleting a deleted item
//! is no error, and a marker someone else removed counts as finished.

use std::time::{Duration, Instant};

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::types::{DeleteRequest, WriteRequest};
use futures_util::{stream, StreamExt, TryStreamExt};
use serde::Serialize;

use super::entities::{from_item, PurgeMarker};
use super::keys::{self, Key};
use super::{s, schema, Condition, Item, Store, StoreError};
use crate::domain::Slug;

/// Keys read per Query of a partition: one chunk (keys only: at most some 100 KB).
pub const CHUNK_ITEMS: u64 = 500;

/// BatchWriteItem requests of a chunk in flight at once (25 deletes each). Two keep a
/// partition's 1,000 write units a second busy (a BatchWriteItem takes some 10-20 ms).
const CONCURRENT_BATCHES: usize = 2;

/// Markers read per Query of the index.
const MARKERS_PER_PAGE: i32 = 25;

/// What a run may spend: a number of items deleted, and time. A chunk is started only while
/// both are left, so a run ends at most one chunk after `until`.
#[derive(Debug, Clone, Copy)]
pub struct Budget {
    items: u64,
    until: Instant,
}

impl Budget {
    pub fn new(items: u64, until: Instant) -> Self {
        Self { items, until }
    }

    /// `items`, and the time until `margin` before `deadline_ms` (epoch milliseconds, as a
    /// Lambda invocation's deadline is given).
    pub fn before_deadline(items: u64, deadline_ms: u64, margin: Duration) -> Self {
        let now_ms = u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default();
        let remaining = Duration::from_millis(deadline_ms.saturating_sub(now_ms));
        Self::new(items, Instant::now() + remaining.saturating_sub(margin))
    }

    /// Items this budget still allows.
    pub fn items_left(&self) -> u64 {
        self.items
    }

    pub fn is_spent(&self) -> bool {
        self.items == 0 || Instant::now() >= self.until
    }

    fn spend(&mut self, items: u64) {
        self.items = self.items.saturating_sub(items);
    }
}

/// What a sweep of one partition did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PartitionSwept {
    /// Items deleted (the marker not counted).
    pub deleted: u64,
    /// The partition is empty and its marker is gone: the slug is free.
    pub finished: bool,
}

/// What a run of the sweeper did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SweepReport {
    /// Partitions emptied, their markers removed.
    pub partitions_finished: u64,
    /// Partitions swept in part: the budget ran out (the next run resumes them).
    pub partitions_left: u64,
    /// Partitions whose sweep failed (logged; the next run tries again).
    pub partitions_failed: u64,
    /// Items deleted in all partitions.
    pub items_deleted: u64,
    /// The run stopped on its budget; markers may be left that it did not reach.
    pub budget_spent: bool,
}

impl Store {
    /// Deletes the items of the deleted organisation `slug`'s partition, chunk by chunk, until
    /// the partition is empty (then its `PURGE` marker goes too: `finished`) or `budget` is
    /// spent. Resumes wherever an earlier sweep stopped; safe to run concurrently with another.
    pub async fn sweep_partition(
        &self,
        slug: &Slug,
        budget: &mut Budget,
    ) -> Result<PartitionSwept, StoreError> {
        let marker = Key::purge(slug);
        let mut swept = PartitionSwept::default();
        let mut start: Option<Item> = None;
        loop {
            if budget.is_spent() {
                return Ok(swept);
            }
            let limit = budget.items_left().min(CHUNK_ITEMS);
            let (keys, next) = self.partition_keys(slug, limit, start.take()).await?;
            let keys: Vec<Item> = keys
                .into_iter()
                .filter(|key| Key::of(key).as_ref() != Some(&marker))
                .collect();
            let count = keys.len() as u64;
            self.delete_all(keys).await?;
            swept.deleted += count;
            budget.spend(count);
            match next {
                Some(next) => start = Some(next),
                None => break,
            }
        }
        // The whole partition was passed over; it is empty unless something was written behind
        // the pass, which nothing can (see the module's documentation). Proven before the
        // marker goes: a strongly consistent look at what is left.
        let (left, _) = self.partition_keys(slug, 2, None).await?;
        if left
            .iter()
            .any(|key| Key::of(key).as_ref() != Some(&marker))
        {
            tracing::warn!(%slug, "items appeared behind the sweep; the next sweep takes them");
            return Ok(swept);
        }
        if !left.is_empty() {
            self.remove_marker(marker).await?;
        }
        swept.finished = true;
        Ok(swept)
    }

    /// Sweeps the partitions of every `PURGE` marker in `gsi1`, oldest deletion first, until
    /// none is left or `budget` is spent. A partition whose sweep fails is logged and counted,
    /// and the run goes on with the next one.
    pub async fn sweep_pending(&self, mut budget: Budget) -> Result<SweepReport, StoreError> {
        let mut report = SweepReport::default();
        let mut start: Option<Item> = None;
        loop {
            if budget.is_spent() {
                report.budget_spent = true;
                return Ok(report);
            }
            let page = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(schema::GSI1.name)
                .key_condition_expression("#queue = :queue")
                .expression_attribute_names("#queue", schema::GSI1.partition_key)
                .expression_attribute_values(":queue", s(keys::PURGE_QUEUE))
                .limit(MARKERS_PER_PAGE)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(super::sdk)?;
            for item in page.items.unwrap_or_default() {
                if budget.is_spent() {
                    report.budget_spent = true;
                    return Ok(report);
                }
                let marker: PurgeMarker = from_item(item)?;
                let slug = &marker.slug;
                match self.sweep_partition(slug, &mut budget).await {
                    Ok(swept) => {
                        report.items_deleted += swept.deleted;
                        if swept.finished {
                            report.partitions_finished += 1;
                            tracing::info!(%slug, deleted = swept.deleted, deleted_at = %marker.deleted_at, "partition swept; the slug is free");
                        } else {
                            report.partitions_left += 1;
                            report.budget_spent = budget.is_spent();
                            tracing::info!(%slug, deleted = swept.deleted, "partition swept in part; the next run resumes it");
                        }
                    }
                    Err(error) => {
                        report.partitions_failed += 1;
                        tracing::error!(%error, %slug, "sweeping a deleted organisation's partition failed; the next run resumes it");
                    }
                }
            }
            match page.last_evaluated_key {
                Some(next) => start = Some(next),
                None => return Ok(report),
            }
        }
    }

    /// One page of at most `limit` keys of the partition (keys only, strongly consistent), and
    /// where the next page starts.
    async fn partition_keys(
        &self,
        slug: &Slug,
        limit: u64,
        start: Option<Item>,
    ) -> Result<(Vec<Item>, Option<Item>), StoreError> {
        let page = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", keys::partition(slug))
            .projection_expression("#pk, #sk")
            .consistent_read(true)
            .limit(i32::try_from(limit.max(1)).unwrap_or(i32::MAX))
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(super::sdk)?;
        Ok((page.items.unwrap_or_default(), page.last_evaluated_key))
    }

    /// Deletes `keys`: BatchWriteItem of 25 each, [`CONCURRENT_BATCHES`] in flight.
    async fn delete_all(&self, keys: Vec<Item>) -> Result<(), StoreError> {
        let requests = keys
            .into_iter()
            .map(|key| {
                DeleteRequest::builder()
                    .set_key(Some(key))
                    .build()
                    .map(|request| WriteRequest::builder().delete_request(request).build())
                    .map_err(|_| StoreError::InvalidChange("delete request without a key"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        stream::iter(requests.chunks(25).map(<[WriteRequest]>::to_vec))
            .map(|batch| self.write_batch(batch))
            .buffer_unordered(CONCURRENT_BATCHES)
            .try_collect::<()>()
            .await
    }

    /// Deletes the marker if it is still there (another sweep may have got there first).
    async fn remove_marker(&self, marker: Key) -> Result<(), StoreError> {
        let condition = Condition::present();
        let result = self
            .client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(marker.into_item()))
            .condition_expression(condition.expression)
            .set_expression_attribute_names(Some(condition.names))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(error)
                if matches!(
                    error.as_service_error(),
                    Some(DeleteItemError::ConditionalCheckFailedException(_))
                ) =>
            {
                Ok(())
            }
            Err(error) => Err(super::sdk(error)),
        }
    }
}

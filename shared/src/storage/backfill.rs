//! One-off: the `gsi1` keys of member items stored before a user's organisations were listed
//! through the index (docs/storage.md, "A user's organisations"). Every write of a member item
//! since carries them; an item written before is missing from `GET /api/v1/memberships` until
//! it is written again. `devtools backfill-membership-index` runs this once after such a deploy.
//!
//! A Scan of the member items without `gsi1pk`, and per item one UpdateItem that adds the two
//! index keys and nothing else, on condition that the item is still there, still has no index
//! keys (a write of the new code got there first) and is bound to the same subject as when it
//! was read (a claim of the old code meanwhile would make the keys wrong: it is skipped and found
//! by the next run). Safe to run again, and beside the API.

use super::entities::{entity_type, fields, from_item, Entity, ENTITY};
use super::keys::{Key, PK};
use super::schema::GSI1;
use super::{s, Item, Store, StoreError};
use crate::domain::member::Member;

/// What a backfill run did.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct BackfillReport {
    /// Member items without index keys found by the scan.
    pub found: usize,
    /// Of those, given their keys (or, in a dry run, that would be).
    pub indexed: usize,
    /// Changed or removed between the scan and the update: left as they are.
    pub skipped: usize,
}

impl Store {
    /// Adds the `gsi1` keys to every member item that lacks them; with `dry_run`, only counts.
    pub async fn backfill_membership_index(
        &self,
        dry_run: bool,
    ) -> Result<BackfillReport, StoreError> {
        let mut report = BackfillReport::default();
        let mut start: Option<Item> = None;
        loop {
            let page = self
                .client
                .scan()
                .table_name(&self.table)
                .filter_expression("#entity = :member AND attribute_not_exists(#gsi1pk)")
                .expression_attribute_names("#entity", ENTITY)
                .expression_attribute_names("#gsi1pk", GSI1.partition_key)
                .expression_attribute_values(":member", s(Member::TYPE))
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(super::sdk)?;
            for item in page.items.unwrap_or_default() {
                if entity_type(&item) != Some(Member::TYPE) {
                    continue;
                }
                report.found += 1;
                if dry_run || self.index_member(item).await? {
                    report.indexed += 1;
                } else {
                    report.skipped += 1;
                }
            }
            match page.last_evaluated_key {
                Some(key) if !key.is_empty() => start = Some(key),
                _ => return Ok(report),
            }
        }
    }

    /// Adds one member item's index keys; `false` when its condition no longer held.
    async fn index_member(&self, item: Item) -> Result<bool, StoreError> {
        let Some(key) = Key::of(&item) else {
            return Ok(false);
        };
        let member: Member = from_item(item)?;
        let Some(index) = member.index_key() else {
            return Ok(false);
        };
        let (subject_condition, subject_value) = match &member.subject {
            Some(subject) => ("#subject = :subject", Some(s(subject.as_str()))),
            None => (
                "(attribute_not_exists(#subject) OR attribute_type(#subject, :null))",
                None,
            ),
        };
        let update = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key.into_item()))
            .update_expression("SET #gsi1pk = :gsi1pk, #gsi1sk = :gsi1sk")
            .condition_expression(format!(
                "attribute_exists(#pk) AND attribute_not_exists(#gsi1pk) AND {subject_condition}"
            ))
            .expression_attribute_names("#pk", PK)
            .expression_attribute_names("#gsi1pk", GSI1.partition_key)
            .expression_attribute_names("#gsi1sk", GSI1.sort_key)
            .expression_attribute_names("#subject", fields::SUBJECT)
            .expression_attribute_values(":gsi1pk", s(index.pk))
            .expression_attribute_values(":gsi1sk", s(index.sk));
        let update = match subject_value {
            Some(value) => update.expression_attribute_values(":subject", value),
            None => update.expression_attribute_values(":null", s("NULL")),
        };
        match update.send().await {
            Ok(_) => Ok(true),
            Err(error)
                if error
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(error) => Err(super::sdk(error)),
        }
    }
}

//! The activity log: event `n` of an organisation is `ACTIVITY#<n:012>` in its partition, and
//! the profile's `revision` is the number of events. A page is therefore a key range, read with
//! one Query whatever the page number.

use aws_sdk_dynamodb::types::AttributeValue;

use super::keys::{self, org_pk};
use super::{from_item, s, Store, StoreError};
use crate::domain::activity::ActivityEvent;
use crate::domain::Slug;

impl Store {
    /// Events `first..=last` (1-based sequence numbers), ascending or descending.
    pub async fn activity_range(
        &self,
        slug: &Slug,
        first: u64,
        last: u64,
        ascending: bool,
    ) -> Result<Vec<ActivityEvent>, StoreError> {
        if first > last {
            return Ok(Vec::new());
        }
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND sk BETWEEN :first AND :last")
            .expression_attribute_values(":pk", s(org_pk(slug)))
            .expression_attribute_values(":first", AttributeValue::S(keys::activity_sk(first)))
            .expression_attribute_values(":last", AttributeValue::S(keys::activity_sk(last)))
            .scan_index_forward(ascending)
            .send()
            .await
            .map_err(super::sdk)?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(from_item)
            .collect()
    }
}

//! The activity log: event `n` of an organisation is stored under its revision `n` in its
//! partition, and the profile's `revision` is the number of events. A page is therefore a key
//! range, read with one Query whatever the page number.

use super::entities::from_item;
use super::keys::{self, Key};
use super::{s, Store, StoreError};
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
            .key_condition_expression("#pk = :pk AND #sk BETWEEN :first AND :last")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", keys::partition(slug))
            .expression_attribute_values(":first", s(Key::activity(slug, first).sk))
            .expression_attribute_values(":last", s(Key::activity(slug, last).sk))
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

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
        let numbered = self
            .activity_numbered(slug, first, last, ascending, None)
            .await?;
        Ok(numbered.into_iter().map(|(_, event)| event).collect())
    }

    /// Events `first..=last` with their sequence numbers, at most `limit` of them from the
    /// start of the order asked for: what a page read before the log's length is known needs
    /// to check that it got the page (`api::activity`).
    pub async fn activity_numbered(
        &self,
        slug: &Slug,
        first: u64,
        last: u64,
        ascending: bool,
        limit: Option<i32>,
    ) -> Result<Vec<(u64, ActivityEvent)>, StoreError> {
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
            .set_limit(limit)
            .send()
            .await
            .map_err(super::sdk)?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            // The key condition selects activity keys only; one that did not parse would just
            // be missing, and the caller's check that it got its page reads the page again.
            .filter_map(|item| {
                let seq = item
                    .get(keys::SK)
                    .and_then(|sk| sk.as_s().ok())
                    .and_then(|sk| Key::activity_seq(sk))?;
                Some(from_item(item).map(|event| (seq, event)))
            })
            .collect()
    }
}

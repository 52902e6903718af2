//! The VAT schedule's sparse index (`gsi1`, [`keys::vat_check_queue`]), read page by page:
//! what the re-validation job holds at once does not grow with the number of due
//! organisations.

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use super::entities::from_item;
use super::keys;
use super::{s, schema, Item, Store, StoreError};
use crate::domain::organisation::Organisation;

/// The organisations whose VAT check is due at a time, most overdue first: every shard of the
/// sparse index is queried a page at a time (`Limit`, `ExclusiveStartKey`; never a scan) and
/// the shards are merged by due time. It holds at most one page per shard, whatever the number
/// due. The copies are the index's, possibly stale.
///
/// A shard's next page is read only when its last one has been taken, so organisations whose
/// check is written meanwhile (and so leave the `<= now` range) are not met again.
#[derive(Debug)]
pub struct VatChecksDue<'a> {
    store: &'a Store,
    now: String,
    page_size: i32,
    shards: Vec<Shard>,
    read: usize,
}

#[derive(Debug)]
struct Shard {
    queue: String,
    page: VecDeque<Organisation>,
    next: Next,
}

#[derive(Debug)]
enum Next {
    /// Not read yet.
    First,
    /// More after this key.
    After(Item),
    /// Read to its end.
    End,
}

impl Store {
    /// The organisations due at `now`, holding at most `at_most` read and not yet taken (or one
    /// per shard, if that is more): each Query reads `at_most / shards` items, rounded up.
    pub fn vat_checks_due(&self, now: DateTime<Utc>, at_most: usize) -> VatChecksDue<'_> {
        let shards = usize::try_from(keys::VAT_CHECK_SHARDS).unwrap_or(1).max(1);
        let page_size = at_most.div_ceil(shards).max(1);
        VatChecksDue {
            store: self,
            now: keys::vat_check_due(now),
            page_size: i32::try_from(page_size).unwrap_or(i32::MAX),
            shards: (0..keys::VAT_CHECK_SHARDS)
                .map(|shard| Shard {
                    queue: keys::vat_check_queue(shard),
                    page: VecDeque::new(),
                    next: Next::First,
                })
                .collect(),
            read: 0,
        }
    }
}

impl VatChecksDue<'_> {
    /// The most overdue organisation not yet taken; `None` when every shard is read to its end.
    pub async fn next(&mut self) -> Result<Option<Organisation>, StoreError> {
        for index in 0..self.shards.len() {
            self.fill(index).await?;
        }
        let most_overdue = self
            .shards
            .iter()
            .enumerate()
            .filter_map(|(index, shard)| Some((shard.page.front()?.vat_next_check_at, index)))
            .min()
            .map(|(_, index)| index);
        Ok(most_overdue.and_then(|index| self.shards.get_mut(index)?.page.pop_front()))
    }

    /// Index items read so far.
    pub fn read(&self) -> usize {
        self.read
    }

    /// Organisations read and not yet taken.
    pub fn held(&self) -> usize {
        self.shards.iter().map(|shard| shard.page.len()).sum()
    }

    /// Reads the shard's next page if its last one is taken and there is more.
    async fn fill(&mut self, index: usize) -> Result<(), StoreError> {
        let Some(shard) = self.shards.get_mut(index) else {
            return Ok(());
        };
        while shard.page.is_empty() {
            let start = match std::mem::replace(&mut shard.next, Next::End) {
                Next::End => return Ok(()),
                Next::First => None,
                Next::After(key) => Some(key),
            };
            let page = self
                .store
                .client
                .query()
                .table_name(&self.store.table)
                .index_name(schema::GSI1.name)
                .key_condition_expression("#queue = :queue AND #due <= :now")
                .expression_attribute_names("#queue", schema::GSI1.partition_key)
                .expression_attribute_names("#due", schema::GSI1.sort_key)
                .expression_attribute_values(":queue", s(&shard.queue))
                .expression_attribute_values(":now", s(&self.now))
                .limit(self.page_size)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(super::sdk)?;
            for item in page.items.unwrap_or_default() {
                shard.page.push_back(from_item(item)?);
                self.read += 1;
            }
            if let Some(key) = page.last_evaluated_key {
                shard.next = Next::After(key);
            }
        }
        Ok(())
    }
}

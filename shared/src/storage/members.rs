//! Memberships: the list (one Query), and one member by identity. Keys: [`super::keys`].

use uuid::Uuid;

use super::entities::{entity_type, from_item, Entity};
use super::keys::{self, Key};
use super::{s, Store, StoreError};
use crate::domain::member::Member;
use crate::domain::Slug;

impl Store {
    /// Every member of the organisation: one Query (`begins_with(sk, "MEMBER#")`), more only
    /// when the members exceed DynamoDB's 1 MB page (several thousand members).
    pub async fn members(&self, slug: &Slug) -> Result<Vec<Member>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("#pk = :pk AND begins_with(#sk, :prefix)")
            .expression_attribute_names("#pk", keys::PK)
            .expression_attribute_names("#sk", keys::SK)
            .expression_attribute_values(":pk", keys::partition(slug))
            .expression_attribute_values(":prefix", s(keys::MEMBER_PREFIX))
            .consistent_read(true);
        self.query_all(query)
            .await?
            .into_iter()
            .filter(|item| entity_type(item) == Some(Member::TYPE))
            .map(from_item)
            .collect()
    }

    /// [`Store::members`] of an organisation that exists: `None` when it has no profile (it was
    /// deleted, and its partition may still hold members until the sweep has removed them). The
    /// Query and a GetItem of the profile, sent at once: one round trip's time.
    pub async fn members_of_existing(
        &self,
        slug: &Slug,
    ) -> Result<Option<Vec<Member>>, StoreError> {
        let (members, profile) =
            futures_util::try_join!(self.members(slug), self.get(Key::profile(slug)))?;
        Ok(profile.is_some().then_some(members))
    }

    pub async fn member(&self, slug: &Slug, identity: Uuid) -> Result<Option<Member>, StoreError> {
        self.get(Key::member(slug, identity))
            .await?
            .map(from_item)
            .transpose()
    }
}

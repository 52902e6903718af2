//! A user's memberships across organisations (`gsi1`: `MEMBEROF#<sub>`, `INVITED#<e-mail>`;
//! see [`super::keys`]), the profiles that name them, and what a caller holds in one
//! organisation (accept, decline, leave).

use std::collections::HashMap;

use super::entities::{entity_type, from_item, Entity};
use super::keys::{self, Key};
use super::schema::GSI1;
use super::{s, Store, StoreError};
use crate::domain::member::Member;
use crate::domain::memberships::Standing;
use crate::domain::organisation::Organisation;
use crate::domain::{Caller, Email, Slug};

impl Store {
    /// The members of one `gsi1` partition, with the organisation each belongs to: one Query
    /// (more only past DynamoDB's 1 MB page, some thousands of memberships).
    async fn memberships_in(&self, partition: String) -> Result<Vec<(Slug, Member)>, StoreError> {
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(GSI1.name)
            .key_condition_expression("#pk = :pk")
            .expression_attribute_names("#pk", GSI1.partition_key)
            .expression_attribute_values(":pk", s(partition));
        let mut found = Vec::new();
        for item in self.query_all(query).await? {
            if entity_type(&item) != Some(Member::TYPE) {
                continue;
            }
            let Some(slug) = Key::of(&item).and_then(|k| keys::slug_of_partition(&k.pk)) else {
                continue;
            };
            found.push((slug, from_item::<Member>(item)?));
        }
        Ok(found)
    }

    /// The memberships bound to `subject` and the invitations to `email` (when given), read by
    /// two Queries sent at once.
    pub async fn memberships_of(
        &self,
        subject: &str,
        email: Option<&Email>,
    ) -> Result<(Vec<(Slug, Member)>, Vec<(Slug, Member)>), StoreError> {
        let active = self.memberships_in(keys::memberships_of(subject));
        let invited = async {
            match email {
                Some(email) => self.memberships_in(keys::invitations_to(email)).await,
                None => Ok(Vec::new()),
            }
        };
        futures_util::try_join!(active, invited)
    }

    /// The invitations to `email` (index entries: eventually consistent), one Query.
    pub async fn invitations_to(&self, email: &Email) -> Result<Vec<(Slug, Member)>, StoreError> {
        self.memberships_in(keys::invitations_to(email)).await
    }

    /// The profiles of `slugs` that exist: one BatchGet (per 100).
    pub async fn profiles(
        &self,
        slugs: &[Slug],
    ) -> Result<HashMap<Slug, Organisation>, StoreError> {
        if slugs.is_empty() {
            return Ok(HashMap::new());
        }
        let keys = slugs.iter().map(Key::profile).collect();
        let mut found = HashMap::new();
        for item in self.get_all(keys).await? {
            if entity_type(&item) == Some(Organisation::TYPE) {
                let organisation: Organisation = from_item(item)?;
                found.insert(organisation.slug.clone(), organisation);
            }
        }
        Ok(found)
    }

    /// What `caller` holds in the organisation `slug`: the profile, their membership by
    /// subject, and the unclaimed membership their verified address was invited to. One
    /// BatchGet, and a GetItem of the invited member when there is an invitation `invited` did
    /// not name.
    ///
    /// `invited`: the member item the caller's invitation is expected to be (from the index,
    /// which may lag), read in the same BatchGet; when the invitation names another, or none was
    /// given, the member is read after it.
    pub async fn standing(
        &self,
        slug: &Slug,
        caller: &Caller,
        invited: Option<uuid::Uuid>,
    ) -> Result<Read, StoreError> {
        let reads = crate::domain::authorisation::Reads {
            member: invited,
            ..Default::default()
        };
        let Some(snapshot) = self.snapshot(slug, caller, reads).await? else {
            return Ok(Read::NoOrganisation);
        };
        let invitation = match (&snapshot.member, &snapshot.invitation) {
            (None, Some(lookup)) if lookup.subject.is_none() => {
                let read_with_it = snapshot
                    .target_member
                    .clone()
                    .filter(|m| m.identity == lookup.member_identity);
                let member = match read_with_it {
                    Some(member) => Some(member),
                    None => self.member(slug, lookup.member_identity).await?,
                };
                match member {
                    Some(member) if member.subject.is_none() => Some(member),
                    // Claimed or removed between the two reads: read again.
                    _ => return Ok(Read::Raced),
                }
            }
            _ => None,
        };
        Ok(Read::Found(Box::new(Standing {
            organisation: snapshot.organisation,
            member: snapshot.member,
            invitation,
        })))
    }
}

/// What [`Store::standing`] read.
#[derive(Debug)]
pub enum Read {
    NoOrganisation,
    /// The invitation changed between the lookup and the member's read.
    Raced,
    Found(Box<Standing>),
}

//! Reads of an organisation and of the records beside it;
//! the VAT schedule's index: [`super::vat_schedule`]. Keys and access patterns: [`super::keys`].

use uuid::Uuid;

use super::entities::{entity_type, from_item, Entity, MemberBySubject, ResourceEntry};
use super::keys::Key;
use super::{Item, Store, StoreError};
use crate::domain::authorisation::{Reads, Snapshot};
use crate::domain::ledger::ResourceLedger;
use crate::domain::member::Member;
use crate::domain::organisation::Organisation;
use crate::domain::platform::{Resource, ResourceRecord, ResourceState};
use crate::domain::quotas::QuotaOverrides;
use crate::domain::records::{CreationLog, EmailLookup, IdempotencyRecord, IdentityLookup};
use crate::domain::verification::EmailCode;
use crate::domain::{Caller, Slug, Subject};

/// What a platform event's decision needs read of its organisation.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Wanted {
    Profile,
    Resource(Resource),
    Ledger,
}

/// What was read for a [`Wanted`]; `None`: it does not exist.
#[derive(Debug, Clone)]
pub enum Found {
    Profile(Option<Box<Organisation>>),
    Resource(Resource, Option<ResourceRecord>),
    Ledger(Option<ResourceLedger>),
}

impl Store {
    /// Reads what each organisation's events rest on: one BatchGetItem per 100 keys for all of
    /// them. Returns a [`Found`] for every [`Wanted`], present or not.
    pub async fn resource_views_by_organisation(
        &self,
        wanted: &[(Slug, Vec<Wanted>)],
    ) -> Result<Vec<(Slug, Found)>, StoreError> {
        let key = |slug: &Slug, wanted: &Wanted| match wanted {
            Wanted::Profile => Key::profile(slug),
            Wanted::Resource(resource) => Key::resource(slug, resource),
            Wanted::Ledger => Key::ledger(slug),
        };
        let keys: Vec<Key> = wanted
            .iter()
            .flat_map(|(slug, wanted)| wanted.iter().map(move |w| key(slug, w)))
            .collect();
        let mut items: std::collections::HashMap<Key, Item> = self
            .get_all(keys)
            .await?
            .into_iter()
            .filter_map(|item| Some((Key::of(&item)?, item)))
            .collect();
        let mut found = Vec::new();
        for (slug, wanted) in wanted {
            for w in wanted {
                let item = items.remove(&key(slug, w));
                let of_type = |item: Option<Item>, entity: &str| {
                    item.filter(|i| entity_type(i) == Some(entity))
                };
                found.push((
                    slug.clone(),
                    match w {
                        Wanted::Profile => Found::Profile(
                            of_type(item, Organisation::TYPE)
                                .map(from_item)
                                .transpose()?,
                        ),
                        Wanted::Resource(resource) => Found::Resource(
                            resource.clone(),
                            of_type(item, ResourceEntry::TYPE)
                                .map(from_item)
                                .transpose()?,
                        ),
                        Wanted::Ledger => Found::Ledger(
                            of_type(item, ResourceLedger::TYPE)
                                .map(from_item)
                                .transpose()?,
                        ),
                    },
                ));
            }
        }
        Ok(found)
    }

    /// One BatchGet: the profile, the caller's membership by subject, the invitation for the
    /// caller's verified e-mail and what `reads` asks for. `None` when there is no such
    /// organisation. Items are told apart by their entity type.
    pub async fn snapshot(
        &self,
        slug: &Slug,
        caller: &Caller,
        reads: Reads,
    ) -> Result<Option<Snapshot>, StoreError> {
        let mut wanted = vec![
            Key::profile(slug),
            Key::member_by_subject(slug, caller.subject.as_str()),
        ];
        if let Some(email) = caller.verified_email() {
            wanted.push(Key::member_by_email(slug, email));
        }
        if reads.ledger {
            wanted.push(Key::ledger(slug));
        }
        if reads.quotas {
            wanted.push(Key::resource(slug, &Resource::Quotas));
        }
        if let Some(identity) = reads.member {
            wanted.push(Key::member(slug, identity));
        }
        let mut organisation: Option<Organisation> = None;
        let mut member = None;
        let mut invitation = None;
        let mut ledger = ResourceLedger::default();
        let mut quota_overrides = QuotaOverrides::default();
        let mut target_member = None;
        // The members' Query, when asked for, runs beside the BatchGet: one round trip on the
        // critical path.
        let everyone = async {
            match reads.members {
                // Boxed: the Query's future would make every authorising read's future large.
                true => Box::pin(self.members(slug)).await,
                false => Ok(Vec::new()),
            }
        };
        let (items, members) = futures_util::future::join(self.get_all(wanted), everyone).await;
        let members = members?;
        for item in items? {
            match entity_type(&item) {
                Some(Organisation::TYPE) => organisation = Some(from_item(item)?),
                Some(MemberBySubject::TYPE) => member = Some(from_item::<Member>(item)?),
                Some(EmailLookup::TYPE) => invitation = Some(from_item::<EmailLookup>(item)?),
                Some(ResourceLedger::TYPE) => ledger = from_item(item)?,
                Some(Member::TYPE) => target_member = Some(from_item(item)?),
                Some(ResourceEntry::TYPE) => {
                    if let ResourceRecord {
                        state: ResourceState::QuotasOverridden { overrides },
                        ..
                    } = from_item(item)?
                    {
                        quota_overrides = overrides;
                    }
                }
                _ => {}
            }
        }
        Ok(organisation.map(|organisation| Snapshot {
            organisation,
            // An invitation counts only while there is no membership by subject.
            invitation: invitation.filter(|_| member.is_none()),
            member,
            ledger,
            quota_overrides,
            target_member,
            members,
        }))
    }

    pub async fn slug_by_identity(&self, identity: Uuid) -> Result<Option<Slug>, StoreError> {
        let item = self.get(Key::organisation_identity(identity)).await?;
        Ok(item
            .map(from_item::<IdentityLookup>)
            .transpose()?
            .map(|l| l.slug))
    }

    /// The caller's creation log; a fresh one (version 0) when there is none.
    pub async fn creation_log(&self, subject: &Subject) -> Result<CreationLog, StoreError> {
        Ok(self
            .get(Key::creation_log(subject))
            .await?
            .map(from_item)
            .transpose()?
            .unwrap_or_else(|| CreationLog {
                subject: subject.clone(),
                created_at: Vec::new(),
                version: 0,
            }))
    }

    /// The answer recorded for an idempotency key (by hash), if any.
    pub async fn idempotency_record(
        &self,
        key_hash: &str,
    ) -> Result<Option<IdempotencyRecord>, StoreError> {
        self.get(Key::idempotency(key_hash))
            .await?
            .map(from_item)
            .transpose()
    }

    pub async fn email_code(&self, code_hash: &str) -> Result<Option<EmailCode>, StoreError> {
        self.get(Key::email_code(code_hash))
            .await?
            .map(from_item)
            .transpose()
    }

    /// Strongly consistent read of the profile alone (for flows without a caller).
    pub async fn organisation(&self, slug: &Slug) -> Result<Option<Organisation>, StoreError> {
        self.get(Key::profile(slug))
            .await?
            .map(from_item)
            .transpose()
    }

    /// Writes `entity` as it is, with no condition: for seeding tests and benchmarks, never for
    /// a change users see (feature `test-util`).
    #[cfg(any(test, feature = "test-util"))]
    pub async fn seed<E: Entity>(&self, entity: &E, organisation: &Slug) -> Result<(), StoreError> {
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(super::entities::to_item(entity, organisation)?))
            .send()
            .await
            .map_err(super::sdk)?;
        Ok(())
    }

    /// Seeds many items at once (BatchWriteItem), for tests and benchmarks (feature
    /// `test-util`).
    #[cfg(any(test, feature = "test-util"))]
    pub async fn seed_all<E: Entity>(
        &self,
        entities: &[E],
        organisation: &Slug,
    ) -> Result<(), StoreError> {
        let requests = entities
            .iter()
            .map(|entity| {
                let item: Item = super::entities::to_item(entity, organisation)?;
                aws_sdk_dynamodb::types::PutRequest::builder()
                    .set_item(Some(item))
                    .build()
                    .map(|put| {
                        aws_sdk_dynamodb::types::WriteRequest::builder()
                            .put_request(put)
                            .build()
                    })
                    .map_err(|_| StoreError::InvalidChange("put request without an item"))
            })
            .collect::<Result<Vec<_>, StoreError>>()?;
        self.write_batch(requests).await
    }
}

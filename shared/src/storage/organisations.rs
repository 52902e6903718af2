//! Reads and writes of the organisation aggregate (profile, members' lookup items, ledger,
//! lookups outside the partition). Keys and access patterns: [`super::keys`].

use aws_sdk_dynamodb::types::{DeleteRequest, TransactWriteItem, WriteRequest};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keys::{self, org_pk};
use super::{from_item, key, n, s, schema, to_item, Condition, Item, Store, StoreError};
use crate::auth::Caller;
use crate::domain::activity::ActivityEvent;
use crate::domain::ledger::ResourceLedger;
use crate::domain::member::Member;
use crate::domain::organisation::Organisation;
use crate::domain::platform::{ResourceRecord, ResourceState};
use crate::domain::quotas::QuotaOverrides;
use crate::domain::{Slug, Subject};

/// `MEMBEREMAIL#` item: which membership an e-mail address holds, and who claimed it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailLookup {
    pub member_identity: Uuid,
    /// Absent (not NULL) until claimed: the claim's condition is `attribute_not_exists(subject)`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
}

/// `ORGID#` item.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct IdentityLookup {
    slug: Slug,
}

/// `DELETED#` item: who deleted which organisation when, kept after the partition is gone.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletionRecord {
    pub identity: Uuid,
    pub slug: Slug,
    pub name: String,
    pub deleted_by: String,
    pub deleted_at: DateTime<Utc>,
    pub expires_at: i64,
}

/// `EMAILCODE#` item: what a verification code verifies. Keyed by the code's hash.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EmailCode {
    pub slug: Slug,
    pub kind: crate::domain::verification::EmailKind,
    pub email: crate::domain::Email,
    pub created_at: DateTime<Utc>,
    /// Epoch seconds; also the table's TTL attribute.
    pub expires_at: i64,
}

/// The profile item: the organisation plus, while it has a VAT number, its entry in the VAT
/// schedule index.
pub fn profile_item(organisation: &Organisation) -> Result<Item, StoreError> {
    let mut item = to_item(org_pk(&organisation.slug), keys::PROFILE_SK, organisation)?;
    if let Some(due) = organisation.vat_next_check_at {
        let queue = keys::vat_check_queue(keys::vat_check_shard(&organisation.slug));
        item.insert(schema::GSI1.partition_key.to_owned(), s(queue));
        item.insert(
            schema::GSI1.sort_key.to_owned(),
            s(keys::vat_check_due(due)),
        );
    }
    Ok(item)
}

/// What an authorised request reads about an organisation in its first round trip.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub organisation: Organisation,
    /// The caller's membership, found by token subject.
    pub member: Option<Member>,
    /// The invitation for the caller's verified e-mail, when there is no membership by subject.
    pub invitation: Option<EmailLookup>,
    pub ledger: ResourceLedger,
    /// The operator's quota overrides (read with [`Reads::quotas`]).
    pub quota_overrides: QuotaOverrides,
    /// The member asked for with [`Reads::member`].
    pub target_member: Option<Member>,
}

/// What [`Store::snapshot`] reads besides the profile and the caller's membership.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reads {
    /// The resource ledger (delete guard, compute information).
    pub ledger: bool,
    /// The operator's quota overrides.
    pub quotas: bool,
    /// Another member, by identity (member removal).
    pub member: Option<Uuid>,
}

/// Outcome of a create transaction that did not commit.
#[derive(Debug)]
pub enum CreateRefused {
    SlugTaken,
    AlreadyRegistered,
}

impl Store {
    /// One BatchGet: the profile, the caller's membership by subject, the invitation for the
    /// caller's verified e-mail and what `reads` asks for. `None` when there is no such
    /// organisation.
    pub async fn snapshot(
        &self,
        slug: &Slug,
        caller: &Caller,
        reads: Reads,
    ) -> Result<Option<Snapshot>, StoreError> {
        let pk = org_pk(slug);
        let mut wanted = vec![
            key(&pk, keys::PROFILE_SK),
            key(&pk, keys::member_subject_sk(&caller.subject)),
        ];
        if let Some(email) = caller.verified_email() {
            wanted.push(key(&pk, keys::member_email_sk(email)));
        }
        if reads.ledger {
            wanted.push(key(&pk, keys::LEDGER_SK));
        }
        if reads.quotas {
            wanted.push(key(&pk, keys::QUOTAS_SK));
        }
        if let Some(identity) = reads.member {
            wanted.push(key(&pk, keys::member_sk(identity)));
        }
        let mut found = self.get_many(wanted).await?;
        let Some(profile) = found.remove(keys::PROFILE_SK) else {
            return Ok(None);
        };
        let member = found
            .remove(&keys::member_subject_sk(&caller.subject))
            .map(from_item::<Member>)
            .transpose()?;
        let invitation = match caller.verified_email() {
            Some(email) if member.is_none() => found
                .remove(&keys::member_email_sk(email))
                .map(from_item::<EmailLookup>)
                .transpose()?,
            _ => None,
        };
        let ledger = found
            .remove(keys::LEDGER_SK)
            .map(from_item::<ResourceLedger>)
            .transpose()?
            .unwrap_or_default();
        let quota_overrides = match found
            .remove(keys::QUOTAS_SK)
            .map(from_item::<ResourceRecord>)
            .transpose()?
        {
            Some(ResourceRecord {
                state: ResourceState::QuotasOverridden { overrides },
                ..
            }) => overrides,
            _ => QuotaOverrides::default(),
        };
        let target_member = reads
            .member
            .and_then(|identity| found.remove(&keys::member_sk(identity)))
            .map(from_item::<Member>)
            .transpose()?;
        Ok(Some(Snapshot {
            organisation: from_item(profile)?,
            member,
            invitation,
            ledger,
            quota_overrides,
            target_member,
        }))
    }

    pub async fn slug_by_identity(&self, identity: Uuid) -> Result<Option<Slug>, StoreError> {
        let item = self
            .get(key(keys::org_identity_pk(identity), keys::ORG_IDENTITY_SK))
            .await?;
        Ok(item
            .map(from_item::<IdentityLookup>)
            .transpose()?
            .map(|l| l.slug))
    }

    /// Creates the organisation with its first admin and its first activity event, in one
    /// transaction. With `registration`, also records that the caller has registered, which
    /// may happen once per user.
    pub async fn create_organisation(
        &self,
        organisation: &Organisation,
        admin: &Member,
        event: &ActivityEvent,
        registration: Option<&Subject>,
        extra: Vec<TransactWriteItem>,
    ) -> Result<Result<(), CreateRefused>, StoreError> {
        let pk = org_pk(&organisation.slug);
        let mut items = vec![
            // 0 and 1: the slug is free and not being swept after a delete.
            self.put(profile_item(organisation)?, Some(Condition::absent())),
            self.check(key(&pk, keys::PURGE_SK), Condition::absent()),
            self.put(
                to_item(
                    keys::org_identity_pk(organisation.identity),
                    keys::ORG_IDENTITY_SK,
                    &IdentityLookup {
                        slug: organisation.slug.clone(),
                    },
                )?,
                Some(Condition::absent()),
            ),
            self.put_activity(&organisation.slug, organisation.revision, event)?,
        ];
        items.extend(self.put_member_items(&organisation.slug, admin)?);
        items.extend(extra);
        let registration_index = items.len();
        if let Some(subject) = registration {
            items.push(self.put(
                to_item(
                    keys::user_pk(subject),
                    keys::REGISTRATION_SK,
                    &IdentityLookup {
                        slug: organisation.slug.clone(),
                    },
                )?,
                Some(Condition::absent()),
            ));
        }
        match self.transact(items).await {
            Ok(()) => Ok(Ok(())),
            Err(StoreError::ConditionFailed(failed)) if failed.contains(&registration_index) => {
                Ok(Err(CreateRefused::AlreadyRegistered))
            }
            Err(StoreError::ConditionFailed(failed)) if failed.iter().any(|i| *i <= 1) => {
                Ok(Err(CreateRefused::SlugTaken))
            }
            Err(other) => Err(other),
        }
    }

    /// The items of one membership: the member, its lookup by subject (when bound) and by
    /// e-mail (when known; its condition keeps e-mail addresses unique per organisation).
    pub fn put_member_items(
        &self,
        slug: &Slug,
        member: &Member,
    ) -> Result<Vec<TransactWriteItem>, StoreError> {
        let pk = org_pk(slug);
        let mut items = vec![self.put(
            to_item(&pk, keys::member_sk(member.identity), member)?,
            Some(Condition::absent()),
        )];
        if let Some(subject) = &member.subject {
            items.push(self.put(
                to_item(&pk, keys::member_subject_sk(subject), member)?,
                None,
            ));
        }
        if let Some(email) = &member.email {
            items.push(self.put(
                to_item(
                    &pk,
                    keys::member_email_sk(email),
                    &EmailLookup {
                        member_identity: member.identity,
                        subject: member.subject.clone(),
                    },
                )?,
                Some(Condition::absent()),
            ));
        }
        Ok(items)
    }

    /// Activity event number `seq`; the condition makes a reused number fail loudly.
    pub fn put_activity(
        &self,
        slug: &Slug,
        seq: u64,
        event: &ActivityEvent,
    ) -> Result<TransactWriteItem, StoreError> {
        Ok(self.put(
            to_item(org_pk(slug), keys::activity_sk(seq), event)?,
            Some(Condition::absent()),
        ))
    }

    /// Writes the whole profile on condition that the stored one is still at `read_revision`
    /// (the revision the decision was made on).
    pub fn put_profile(
        &self,
        organisation: &Organisation,
        read_revision: u64,
    ) -> Result<TransactWriteItem, StoreError> {
        Ok(self.put(
            profile_item(organisation)?,
            Some(revision_is(read_revision)),
        ))
    }

    /// A new e-mail verification code, stored by its hash.
    pub fn put_email_code(
        &self,
        code_hash: &str,
        code: &EmailCode,
    ) -> Result<TransactWriteItem, StoreError> {
        Ok(self.put(
            to_item(keys::email_code_pk(code_hash), keys::EMAIL_CODE_SK, code)?,
            Some(Condition::absent()),
        ))
    }

    pub async fn email_code(&self, code_hash: &str) -> Result<Option<EmailCode>, StoreError> {
        self.get(key(keys::email_code_pk(code_hash), keys::EMAIL_CODE_SK))
            .await?
            .map(from_item)
            .transpose()
    }

    /// Uses up a code: only one request can.
    pub fn delete_email_code(&self, code_hash: &str) -> TransactWriteItem {
        self.delete(
            key(keys::email_code_pk(code_hash), keys::EMAIL_CODE_SK),
            Some(Condition::present()),
        )
    }

    /// Strongly consistent read of the profile alone (for flows without a caller).
    pub async fn organisation(&self, slug: &Slug) -> Result<Option<Organisation>, StoreError> {
        self.get(key(org_pk(slug), keys::PROFILE_SK))
            .await?
            .map(from_item)
            .transpose()
    }

    /// Deletes the profile (at the revision that was read: so the caller is still the admin
    /// they were, since every membership change moves the revision) and the identity lookup,
    /// marks the partition for sweeping and keeps a deletion record; the ledger must still be
    /// clear. Then sweeps the partition.
    pub async fn delete_organisation(
        &self,
        organisation: &Organisation,
        record: &DeletionRecord,
    ) -> Result<(), StoreError> {
        let pk = org_pk(&organisation.slug);
        let ledger_clear = Condition::new(
            "attribute_not_exists(pk) OR (active_clusters = :zero AND cloud_accounts = :zero AND monitoring_tenants = :zero)",
        )
        .value(":zero", n(0));
        self.commit(
            vec![
                self.delete(
                    key(&pk, keys::PROFILE_SK),
                    Some(revision_is(organisation.revision)),
                ),
                self.check(key(&pk, keys::LEDGER_SK), ledger_clear),
            ],
            vec![
                self.delete(
                    key(
                        keys::org_identity_pk(organisation.identity),
                        keys::ORG_IDENTITY_SK,
                    ),
                    None,
                ),
                self.put(key(&pk, keys::PURGE_SK), None),
                self.put(
                    to_item(
                        keys::deleted_org_pk(organisation.identity),
                        keys::DELETED_SK,
                        record,
                    )?,
                    None,
                ),
            ],
        )
        .await?;
        // The deletion has committed: readers see no organisation any more. A sweep that fails
        // half-way leaves the PURGE marker, which keeps the slug reserved; running
        // `sweep_partition` again finishes it. The caller's DELETE has succeeded either way.
        if let Err(error) = self.sweep_partition(&organisation.slug).await {
            tracing::error!(%error, slug = %organisation.slug, "sweeping a deleted organisation's partition failed; its PURGE marker stays");
        }
        Ok(())
    }

    /// Deletes every item of a deleted organisation's partition, the `PURGE` marker last, so
    /// that the slug stays reserved until nothing of the old organisation is left. Safe to run
    /// again after an interruption.
    pub async fn sweep_partition(&self, slug: &Slug) -> Result<(), StoreError> {
        let pk = org_pk(slug);
        let query = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(&pk))
            .projection_expression("pk, sk")
            .consistent_read(true);
        let keys: Vec<Item> = self
            .query_all(query)
            .await?
            .into_iter()
            .filter(|k| k.get(keys::SK) != Some(&s(keys::PURGE_SK)))
            .collect();
        let deletes = keys
            .into_iter()
            .map(|k| {
                WriteRequest::builder()
                    .delete_request(
                        DeleteRequest::builder()
                            .set_key(Some(k))
                            .build()
                            .expect("key is set"),
                    )
                    .build()
            })
            .collect();
        self.write_batch(deletes).await?;
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key(&pk, keys::PURGE_SK)))
            .send()
            .await
            .map_err(super::sdk)?;
        Ok(())
    }
}

/// The stored profile is at `revision`.
pub fn revision_is(revision: u64) -> Condition {
    Condition::new("revision = :revision").value(":revision", n(revision))
}

//! The items of the single table, each declaring its keys in one place (the way modyne models
//! single-table items): partition key, sort key, index keys, and the `entity` attribute that
//! tells item types apart when they are read back. The table of keys and access patterns is in
//! [`super::keys`].

use chrono::{DateTime, Utc};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use super::keys::{self, Key};
use super::{AttributeValue, Item, StoreError};
use crate::domain::activity::{ActivityEvent, Outbound};
use crate::domain::ledger::ResourceLedger;
use crate::domain::member::Member;
use crate::domain::organisation::Organisation;
use crate::domain::platform::{Resource, ResourceRecord};
use crate::domain::records::{
    CreationLog, DeletionRecord, EmailLookup, IdempotencyRecord, IdentityLookup, Registration,
};
use crate::domain::verification::EmailCode;
use crate::domain::Slug;

/// The attribute that names an item's entity type.
pub const ENTITY: &str = "entity";

/// Attribute names that conditions and updates use. Each is the serialised name of a field of
/// the entity named beside it; `tests::expression_names_are_serialised_names` proves it.
pub mod fields {
    /// [`Organisation::revision`](crate::domain::organisation::Organisation).
    pub const REVISION: &str = "revision";
    /// [`Organisation::profile_writes`](crate::domain::organisation::Organisation).
    pub const PROFILE_WRITES: &str = "profile_writes";
    /// [`ResourceRecord::version`](crate::domain::platform::ResourceRecord).
    pub const VERSION: &str = "version";
    /// [`EmailLookup::subject`](crate::domain::records::EmailLookup).
    pub const SUBJECT: &str = "subject";
    /// [`ResourceLedger`](crate::domain::ledger::ResourceLedger)'s counters and totals.
    pub const ACTIVE_CLUSTERS: &str = "active_clusters";
    pub const CLOUD_ACCOUNTS: &str = "cloud_accounts";
    pub const MONITORING_TENANTS: &str = "monitoring_tenants";
    pub const TOTAL_CPU_MILLICORES: &str = "total_cpu_millicores";
    pub const TOTAL_MEMORY_MIB: &str = "total_memory_mib";
    pub const PAYMENT_METHODS: &str = "payment_methods";
    pub const PAYMENT_VERSION: &str = "payment_version";
    pub const PAYMENT_METHOD_ATTACHED_AT: &str = "payment_method_attached_at";
    pub const RESOURCE_RECORDS: &str = "resource_records";
    /// [`EmailCode::used_at`](crate::domain::verification::EmailCode).
    pub const USED_AT: &str = "used_at";
    /// The table's TTL attribute (epoch seconds).
    pub const EXPIRES_AT: &str = crate::storage::schema::TTL_ATTRIBUTE;
    /// Mails counted by an address's hourly counter.
    pub const SENT: &str = "sent";
}

/// A stored item type.
pub trait Entity: Serialize {
    /// The value of the item's [`ENTITY`] attribute.
    const TYPE: &'static str;
    /// The item's key. Items of an organisation's partition are keyed under `organisation`;
    /// lookups outside any partition ignore it.
    fn key(&self, organisation: &Slug) -> Key;
    /// The item's `gsi1` keys, when it is in that sparse index.
    fn index_key(&self) -> Option<Key> {
        None
    }
}

/// Serialises `entity` with its keys and type.
pub fn to_item<E: Entity>(entity: &E, organisation: &Slug) -> Result<Item, StoreError> {
    let mut item: Item = serde_dynamo::to_item(entity)?;
    item.extend(entity.key(organisation).into_item());
    if let Some(index) = entity.index_key() {
        item.insert(
            super::schema::GSI1.partition_key.to_owned(),
            AttributeValue::S(index.pk),
        );
        item.insert(
            super::schema::GSI1.sort_key.to_owned(),
            AttributeValue::S(index.sk),
        );
    }
    item.insert(ENTITY.to_owned(), AttributeValue::S(E::TYPE.to_owned()));
    Ok(item)
}

/// Deserialises an item (keys and type attributes are ignored by the domain types).
pub fn from_item<T: DeserializeOwned>(item: Item) -> Result<T, StoreError> {
    Ok(serde_dynamo::from_item(item)?)
}

/// The entity type an item was written as.
pub fn entity_type(item: &Item) -> Option<&str> {
    item.get(ENTITY)
        .and_then(|v| v.as_s().ok())
        .map(String::as_str)
}

/// The profile: the organisation itself. While it has a VAT number, it is also in `gsi1`
/// under its VAT check shard, sorted by when the check is due.
impl Entity for Organisation {
    const TYPE: &'static str = "organisation";
    fn key(&self, _: &Slug) -> Key {
        Key::profile(&self.slug)
    }
    fn index_key(&self) -> Option<Key> {
        self.vat_next_check_at.map(|due| Key {
            pk: keys::vat_check_queue(keys::vat_check_shard(&self.slug)),
            sk: keys::vat_check_due(due),
        })
    }
}

/// A membership (list, remove). Also in `gsi1`: under its subject once bound, under its
/// address while an invitation (a user's organisations, [`super::memberships`]).
impl Entity for Member {
    const TYPE: &'static str = "member";
    fn key(&self, organisation: &Slug) -> Key {
        Key::member(organisation, self.identity)
    }
    fn index_key(&self) -> Option<Key> {
        match (&self.subject, &self.email) {
            (Some(subject), _) => Some(Key {
                pk: keys::memberships_of(subject.as_str()),
                sk: keys::membership_since(self.joined_at, self.identity),
            }),
            (None, Some(email)) => Some(Key {
                pk: keys::invitations_to(email),
                sk: keys::membership_since(
                    self.invitation.map_or(self.joined_at, |i| i.invited_at),
                    self.identity,
                ),
            }),
            (None, None) => None,
        }
    }
}

/// The membership again, by token subject: authorising a caller is a key lookup.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct MemberBySubject<'a>(pub &'a Member);

impl Entity for MemberBySubject<'_> {
    const TYPE: &'static str = "member_by_subject";
    fn key(&self, organisation: &Slug) -> Key {
        // A member by subject always has one; an unbound member is never written this way.
        let subject = self.0.subject.as_ref().map(|s| s.as_str()).unwrap_or("");
        Key::member_by_subject(organisation, subject)
    }
}

/// Which membership an e-mail address holds: unique per organisation, and the invitation a
/// verified token claims.
impl Entity for EmailLookup {
    const TYPE: &'static str = "member_by_email";
    fn key(&self, organisation: &Slug) -> Key {
        Key::member_by_email(organisation, &self.email)
    }
}

/// Activity event number `seq` (the revision the change took). Stored with the event's fields,
/// its `revision` (= `seq`) and, when the change publishes events, its `outbound` part
/// (docs/events.md): the `event-publisher` function reads both from the table's stream.
#[derive(Debug)]
pub struct ActivityEntry<'a> {
    pub seq: u64,
    pub event: &'a ActivityEvent,
}

impl Serialize for ActivityEntry<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        /// The stored shape: what the activity API serves (`ActivityEvent` skips `outbound`),
        /// plus the attributes the stream publishes from.
        #[derive(Serialize)]
        struct Stored<'a> {
            #[serde(flatten)]
            event: &'a ActivityEvent,
            revision: u64,
            #[serde(skip_serializing_if = "Option::is_none")]
            outbound: Option<&'a Outbound>,
        }
        Stored {
            event: self.event,
            revision: self.seq,
            outbound: self.event.outbound.as_ref(),
        }
        .serialize(serializer)
    }
}

impl Entity for ActivityEntry<'_> {
    const TYPE: &'static str = "activity";
    fn key(&self, organisation: &Slug) -> Key {
        Key::activity(organisation, self.seq)
    }
}

/// The attribute of an [`ActivityEntry`] or a [`DeletionRecord`] that holds what its change
/// publishes (docs/events.md).
pub const OUTBOUND: &str = "outbound";

/// The item types whose insertion publishes their [`OUTBOUND`] part: the activity event every
/// change writes, and the deletion record (a deletion has no activity event).
pub const PUBLISHED_ENTITIES: [&str; 2] = [ActivityEntry::TYPE, DeletionRecord::TYPE];

/// What an inserted item publishes: `Ok(None)` for items of other types and for activity events
/// of changes that publish nothing (platform facts, legal entity confirmations). `image` is the
/// item as a stream record carries it.
pub fn published(image: serde_dynamo::Item) -> Result<Option<Outbound>, serde_dynamo::Error> {
    #[derive(serde::Deserialize)]
    struct Published {
        entity: Option<String>,
        outbound: Option<Outbound>,
    }
    let item: Published = serde_dynamo::from_item(image)?;
    Ok(item
        .outbound
        .filter(|_| PUBLISHED_ENTITIES.contains(&item.entity.as_deref().unwrap_or_default())))
}

/// What the platform's events add up to.
impl Entity for ResourceLedger {
    const TYPE: &'static str = "ledger";
    fn key(&self, organisation: &Slug) -> Key {
        Key::ledger(organisation)
    }
}

/// One resource another service owns, with what the newest event said of it.
#[derive(Debug, Serialize)]
pub struct ResourceEntry<'a> {
    #[serde(skip)]
    pub resource: &'a Resource,
    #[serde(flatten)]
    pub record: &'a ResourceRecord,
}

impl Entity for ResourceEntry<'_> {
    const TYPE: &'static str = "resource";
    fn key(&self, organisation: &Slug) -> Key {
        Key::resource(organisation, self.resource)
    }
}

/// The partition is being swept after a delete: the slug stays reserved while it exists. It is
/// also in `gsi1` under [`keys::PURGE_QUEUE`], sorted by the deletion's time, so that the
/// sweeper finds every partition left to sweep (`super::sweep`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgeMarker {
    pub slug: Slug,
    pub deleted_at: DateTime<Utc>,
}

impl Entity for PurgeMarker {
    const TYPE: &'static str = "purge";
    fn key(&self, _: &Slug) -> Key {
        Key::purge(&self.slug)
    }
    fn index_key(&self) -> Option<Key> {
        Some(Key {
            pk: keys::PURGE_QUEUE.to_owned(),
            sk: keys::purge_since(self.deleted_at),
        })
    }
}

/// Outside the partitions: which organisation an identity names (DELETE by identity).
impl Entity for IdentityLookup {
    const TYPE: &'static str = "organisation_identity";
    fn key(&self, _: &Slug) -> Key {
        Key::organisation_identity(self.identity)
    }
}

/// Outside the partitions: a user's one registration.
impl Entity for Registration {
    const TYPE: &'static str = "registration";
    fn key(&self, _: &Slug) -> Key {
        Key::registration(&self.subject)
    }
}

/// Outside the partitions: a deleted organisation, kept after its partition is gone.
impl Entity for DeletionRecord {
    const TYPE: &'static str = "deletion";
    fn key(&self, _: &Slug) -> Key {
        Key::deletion(self.identity)
    }
}

/// Outside the partitions: an e-mail verification code, by its hash.
impl Entity for EmailCode {
    const TYPE: &'static str = "email_code";
    fn key(&self, _: &Slug) -> Key {
        Key::email_code(&self.code_hash)
    }
}

/// Outside the partitions: when a user created organisations lately (the per-user limit).
impl Entity for CreationLog {
    const TYPE: &'static str = "creation_log";
    fn key(&self, _: &Slug) -> Key {
        Key::creation_log(&self.subject)
    }
}

/// Outside the partitions: the first answer to a request made with an `Idempotency-Key`.
impl Entity for IdempotencyRecord {
    const TYPE: &'static str = "idempotency";
    fn key(&self, _: &Slug) -> Key {
        Key::idempotency(&self.key_hash)
    }
}

/// Outside the partitions: the mails to one address in one clock hour, across organisations
/// (written by `ADD`, never put: see `write::Store::count_mail`).
pub const ADDRESS_MAIL_COUNTER: &str = "address_mail_counter";

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::domain::platform::ResourceState;

    #[test]
    fn a_days_mail_record_stays_small_in_the_profile() {
        use crate::domain::budgets::{MailsSent, SentMail};
        let now = chrono::Utc::now();
        let record = MailsSent(
            (0..200)
                .map(|i| SentMail {
                    to: format!("{i:064x}"),
                    at: now,
                })
                .collect(),
        );
        let stored = serde_dynamo::to_attribute_value::<_, AttributeValue>(&record).unwrap();
        let entries = stored.as_l().unwrap();
        assert_eq!(entries.len(), 200);
        // Each entry a string of some 27 bytes: about 6 KB for a full day's budget of 200.
        let bytes: usize = entries.iter().map(|e| e.as_s().unwrap().len()).sum();
        assert!(bytes <= 200 * 28, "{bytes} bytes");
        // And what DynamoDB returns loads back, in either form.
        let loaded: MailsSent = serde_dynamo::from_attribute_value(stored).unwrap();
        assert!(loaded.0[7].is_to(&format!("{:064x}", 7)));
        let old = AttributeValue::L(vec![AttributeValue::M(
            [
                ("to".to_owned(), AttributeValue::S(format!("{:064x}", 7))),
                ("at".to_owned(), AttributeValue::S(now.to_rfc3339())),
            ]
            .into(),
        )]);
        let loaded: MailsSent = serde_dynamo::from_attribute_value(old).unwrap();
        assert!(loaded.0[0].is_to(&format!("{:064x}", 7)));
    }

    fn attributes<E: Entity>(entity: &E) -> Vec<String> {
        let slug = Slug::parse("acme").unwrap();
        let mut names: Vec<String> = to_item(entity, &slug).unwrap().into_keys().collect();
        names.sort();
        names
    }

    #[test]
    fn expression_names_are_serialised_names() {
        let ledger = ResourceLedger {
            payment_methods: BTreeMap::from([("pm".to_owned(), chrono::Utc::now())]),
            payment_method_attached_at: Some(chrono::Utc::now()),
            ..ResourceLedger::default()
        };
        let names = attributes(&ledger);
        for field in [
            fields::ACTIVE_CLUSTERS,
            fields::CLOUD_ACCOUNTS,
            fields::MONITORING_TENANTS,
            fields::TOTAL_CPU_MILLICORES,
            fields::TOTAL_MEMORY_MIB,
            fields::PAYMENT_METHODS,
            fields::PAYMENT_VERSION,
            fields::PAYMENT_METHOD_ATTACHED_AT,
            fields::RESOURCE_RECORDS,
        ] {
            assert!(names.iter().any(|n| n == field), "{field} not in {names:?}");
        }
        let record = ResourceRecord {
            state: ResourceState::ClusterDeleted,
            occurred_at: chrono::Utc::now(),
            event_rank: 0,
            version: 1,
        };
        let entry = ResourceEntry {
            resource: &Resource::Cluster("c".into()),
            record: &record,
        };
        assert!(attributes(&entry).iter().any(|n| n == fields::VERSION));
        let lookup = EmailLookup {
            email: crate::domain::Email::parse("e", "a@b.io").unwrap(),
            member_identity: uuid::Uuid::new_v4(),
            subject: crate::domain::Subject::parse("s"),
        };
        assert!(attributes(&lookup).iter().any(|n| n == fields::SUBJECT));
        let revision =
            serde_json::to_value(crate::domain::organisation::tests_support::organisation())
                .unwrap();
        assert!(revision.get(fields::REVISION).is_some());
    }

    #[test]
    fn activity_entries_store_what_they_publish_and_the_api_never_serves_it() {
        use crate::domain::activity::{ActivityType, Actor, DetailType};
        let organisation = crate::domain::organisation::tests_support::organisation();
        let now = chrono::Utc::now();
        let outbound = Outbound::new(&organisation, &Actor::system(), now)
            .event(DetailType::OrganisationUpdated, serde_json::json!({"a": 1}));
        let event = ActivityEvent::new(
            ActivityType::OrganisationUpdated,
            Actor::system(),
            "m".into(),
            now,
        )
        .with_outbound(outbound.clone());
        // What the activity API serialises: unchanged.
        let served = serde_json::to_value(&event).unwrap();
        let mut names: Vec<&String> = served.as_object().unwrap().keys().collect();
        names.sort();
        assert_eq!(names, ["actor", "createdAt", "message", "type"]);
        // What is stored: the revision and the outbound part too, read back whole.
        let slug = &organisation.slug;
        let item = to_item(
            &ActivityEntry {
                seq: 7,
                event: &event,
            },
            slug,
        )
        .unwrap();
        assert_eq!(item["revision"], AttributeValue::N("7".into()));
        assert!(item.contains_key(OUTBOUND));
        let back: ActivityEvent = from_item(item.clone()).unwrap();
        assert_eq!(back, event);
        let image: serde_dynamo::Item = serde_dynamo::Item::from(item);
        assert_eq!(published(image).unwrap(), Some(outbound));
        // An event that publishes nothing stores no outbound part.
        let quiet = ActivityEvent {
            outbound: None,
            ..event
        };
        let item = to_item(
            &ActivityEntry {
                seq: 8,
                event: &quiet,
            },
            slug,
        )
        .unwrap();
        assert!(!item.contains_key(OUTBOUND));
        assert_eq!(published(serde_dynamo::Item::from(item)).unwrap(), None);
    }

    #[test]
    fn every_item_carries_its_keys_and_type() {
        let marker = PurgeMarker {
            slug: Slug::parse("gone").unwrap(),
            deleted_at: chrono::Utc::now(),
        };
        let names = attributes(&marker);
        assert_eq!(
            names,
            [
                "deleted_at",
                "entity",
                "gsi1pk",
                "gsi1sk",
                "pk",
                "sk",
                "slug"
            ]
        );
        let item = to_item(&marker, &Slug::parse("gone").unwrap()).unwrap();
        assert_eq!(item["pk"], AttributeValue::S("ORG#gone".into()));
        assert_eq!(item["gsi1pk"], AttributeValue::S(keys::PURGE_QUEUE.into()));
        assert_eq!(from_item::<PurgeMarker>(item).unwrap(), marker);
    }

    #[test]
    fn records_map_to_items_and_back() {
        let overrides = crate::domain::quotas::QuotaOverrides {
            nodes_per_cluster: Some(9),
            ..crate::domain::quotas::QuotaOverrides::default()
        };
        for state in [
            ResourceState::ClusterActive {
                cpu_millicores: u32::MAX,
                memory_mib: 7,
            },
            ResourceState::ClusterDeleted,
            ResourceState::PaymentMethodAttached {
                attached_at: chrono::Utc::now(),
            },
            ResourceState::QuotasOverridden { overrides },
        ] {
            let record = ResourceRecord {
                state,
                occurred_at: chrono::Utc::now(),
                event_rank: 2,
                version: 3,
            };
            let resource = Resource::Cluster("c".into());
            let slug = Slug::parse("acme").unwrap();
            let item = to_item(
                &ResourceEntry {
                    resource: &resource,
                    record: &record,
                },
                &slug,
            )
            .unwrap();
            let back: ResourceRecord = from_item(item).unwrap();
            assert_eq!(back, record);
        }
    }
}

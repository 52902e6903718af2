//! Keys of the single table, and the access patterns they serve. Each item type's keys are
//! declared with it in [`super::entities`]; this module builds the key strings, and nothing
//! outside `storage/` does.
//!
//! Every item of an organisation lives in its partition `ORG#<slug>`, so an organisation's reads
//! are key lookups or one Query, and its deletion is one partition sweep.
//!
//! | item (`entity`)                         | pk                    | sk                       | written by                |
//! |-----------------------------------------|-----------------------|--------------------------|---------------------------|
//! | organisation profile (`organisation`)   | `ORG#<slug>`          | `PROFILE`                | create, PATCH             |
//! | member (`member`)                       | `ORG#<slug>`          | `MEMBER#<identity>`      | create, add member, claim |
//! | member by subject (`member_by_subject`) | `ORG#<slug>`          | `MEMBERSUB#<sub>`        | create, claim             |
//! | member by e-mail (`member_by_email`)    | `ORG#<slug>`          | `MEMBEREMAIL#<email>`    | create, add member, claim |
//! | activity event (`activity`)             | `ORG#<slug>`          | `ACTIVITY#<seq:012>`     | every change              |
//! | resource ledger (`ledger`)              | `ORG#<slug>`          | `LEDGER`                 | platform events           |
//! | cluster (`resource`)                    | `ORG#<slug>`          | `CLUSTER#<id>`           | platform events           |
//! | cloud account (`resource`)              | `ORG#<slug>`          | `CLOUDACCOUNT#<id>`      | platform events           |
//! | monitoring tenant (`resource`)          | `ORG#<slug>`          | `TENANT#<id>`            | platform events           |
//! | payment method (`resource`)             | `ORG#<slug>`          | `PAYMENT#<id>`           | platform events           |
//! | quota overrides (`resource`)            | `ORG#<slug>`          | `QUOTAS`                 | platform events           |
//! | purge in progress (`purge`)             | `ORG#<slug>`          | `PURGE`                  | DELETE; in `gsi1`         |
//! | identity lookup (`organisation_identity`)| `ORGID#<uuid>`        | `ORGID`                  | create, DELETE            |
//! | registration (`registration`)           | `USER#<sub>`          | `REGISTRATION`           | registration              |
//! | deleted organisation (`deletion`)       | `DELETED#<uuid>`      | `DELETED`                | DELETE (TTL: 400 days)    |
//! | verification code (`email_code`)        | `EMAILCODE#<sha256>`  | `EMAILCODE`              | create, PATCH (TTL: 24 h) |
//! | creation log (`creation_log`)           | `USER#<sub>`          | `CREATIONS`              | create, registration      |
//! | mails to an address (`address_mail_counter`) | `MAILTO#<sha256>` | `HOUR#<epoch hour>`   | every mail (`ADD`; TTL 2 h) |
//! | idempotent answer (`idempotency`)       | `IDEMPOTENCY#<sha256>`| `IDEMPOTENCY`            | POSTs with a key (TTL 24 h)|
//!
//! The profile also carries `gsi1pk` = `VATDUE#<shard>` and `gsi1sk` = the time its VAT number is
//! next due for a VIES check (RFC 3339, UTC, seconds), while it has a VAT number: the sparse
//! index the scheduled re-validation queries, shard by shard, for `gsi1sk <= now`.
//!
//! The `PURGE` marker carries `gsi1pk` = `PURGE` and `gsi1sk` = when the organisation was
//! deleted: the sweeper finds the partitions left to sweep, oldest first, without a table scan
//! (one index partition: deletions are rare, and each marker lives only until its sweep ends).
//!
//! A member (`MEMBER#<identity>`) is also in `gsi1`, so that a user finds their organisations
//! without knowing their slugs (`GET /api/v1/memberships`, [`super::memberships`]):
//! - bound to a subject: `gsi1pk` = `MEMBEROF#<sub>`, `gsi1sk` = `<joinedAt>#<identity>`;
//! - an invitation (no subject yet): `gsi1pk` = `INVITED#<e-mail key>` (lower case, as the
//!   `MEMBEREMAIL#` lookup), `gsi1sk` = `<invitedAt>#<identity>`.
//!
//! The index entry is the member item itself, so it is written, moved (claim: `INVITED#` →
//! `MEMBEROF#`) and removed (removal, leave, decline, the sweep) in the same transaction as the
//! membership, and carries the organisation in its `pk`. Names come from the profiles (one
//! BatchGet per page), never from a copy a rename would have to update.
//!
//! Access patterns:
//! - Authorise and read an organisation: BatchGet `PROFILE` + `MEMBERSUB#<sub>` (+ the caller's
//!   `MEMBEREMAIL#` when the token's e-mail is verified, + `LEDGER` for DELETE): one round trip.
//! - Change an organisation: one TransactWriteItems whose first item guards `PROFILE.revision`
//!   (optimistic concurrency), with a condition on the caller's membership, the change and the
//!   activity event `ACTIVITY#<revision+1>`.
//! - Slug uniqueness: `PROFILE` put with `attribute_not_exists(pk)` plus a condition that no `PURGE`
//!   marker exists, so that a slug is never reused while an old partition is still being swept.
//! - Member e-mail uniqueness: `MEMBEREMAIL#` put with `attribute_not_exists(pk)`.
//! - A user's organisations: Query `gsi1`, `gsi1pk = MEMBEROF#<sub>`, and (verified e-mail
//!   only) `gsi1pk = INVITED#<e-mail key>`, concurrently; then one BatchGet of the page's
//!   `PROFILE`s.
//! - DELETE by identity: GetItem `ORGID#<uuid>` gives the slug.
//! - Activity page: Query `ACTIVITY#` between two sequence numbers (see `activity`).
//! - Verify an e-mail code: GetItem `EMAILCODE#<sha256(code)>` (the code itself is never stored).
//! - VAT numbers due: Query `gsi1` per shard, `gsi1pk = VATDUE#<n> AND gsi1sk <= now`.
//! - Partitions left to sweep: Query `gsi1`, `gsi1pk = PURGE` (oldest first); each partition
//!   is then emptied in chunks (Query of keys, BatchWriteItem), its marker last (see `sweep`).
//! - Compute information, quotas: the authorisation's BatchGet also reads `LEDGER` or
//!   `QUOTAS`: one round trip.
//! - Apply platform events: one BatchGet for a whole SQS batch reads every `PROFILE` and
//!   resource item it names (+ `LEDGER` for payment methods); then one TransactWriteItems per
//!   event: the resource item on condition of its `version` as read, `ADD` of the deltas to
//!   `LEDGER`, the profile's existence (or its next revision with an activity event). The
//!   resource items stay after deletion or detachment (tombstones), so that an older event
//!   arriving late does not bring a resource back (see `resources`).

use uuid::Uuid;

use super::{AttributeValue, Item};
use crate::domain::platform::Resource;
use crate::domain::{Email, Slug, Subject};

pub const PK: &str = "pk";
pub const SK: &str = "sk";

/// The primary key of an item (or an index key).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Key {
    pub pk: String,
    pub sk: String,
}

fn org_pk(slug: &Slug) -> String {
    format!("ORG#{slug}")
}

impl Key {
    fn new(pk: impl Into<String>, sk: impl Into<String>) -> Self {
        Self {
            pk: pk.into(),
            sk: sk.into(),
        }
    }

    pub fn into_item(self) -> Item {
        Item::from([
            (PK.to_owned(), AttributeValue::S(self.pk)),
            (SK.to_owned(), AttributeValue::S(self.sk)),
        ])
    }

    /// The key of a stored item.
    pub fn of(item: &Item) -> Option<Self> {
        let text = |name| item.get(name).and_then(|v: &AttributeValue| v.as_s().ok());
        Some(Self::new(text(PK)?.clone(), text(SK)?.clone()))
    }

    pub fn profile(slug: &Slug) -> Self {
        Self::new(org_pk(slug), "PROFILE")
    }

    pub fn member(slug: &Slug, identity: Uuid) -> Self {
        Self::new(org_pk(slug), format!("{MEMBER_PREFIX}{identity}"))
    }

    pub fn member_by_subject(slug: &Slug, subject: &str) -> Self {
        Self::new(org_pk(slug), format!("MEMBERSUB#{subject}"))
    }

    pub fn member_by_email(slug: &Slug, email: &Email) -> Self {
        Self::new(org_pk(slug), format!("MEMBEREMAIL#{}", email.key()))
    }

    /// Zero-padded so that lexical order is numeric order.
    pub fn activity(slug: &Slug, seq: u64) -> Self {
        Self::new(org_pk(slug), format!("ACTIVITY#{seq:012}"))
    }

    /// The sequence number of an activity sort key.
    pub fn activity_seq(sk: &str) -> Option<u64> {
        sk.strip_prefix("ACTIVITY#")?.parse().ok()
    }

    pub fn ledger(slug: &Slug) -> Self {
        Self::new(org_pk(slug), "LEDGER")
    }

    pub fn resource(slug: &Slug, resource: &Resource) -> Self {
        let sk = match resource {
            Resource::Cluster(id) => format!("CLUSTER#{id}"),
            Resource::CloudAccount(id) => format!("CLOUDACCOUNT#{id}"),
            Resource::MonitoringTenant(id) => format!("TENANT#{id}"),
            Resource::PaymentMethod(id) => format!("PAYMENT#{id}"),
            Resource::Quotas => "QUOTAS".to_owned(),
        };
        Self::new(org_pk(slug), sk)
    }

    pub fn purge(slug: &Slug) -> Self {
        Self::new(org_pk(slug), "PURGE")
    }

    pub fn organisation_identity(identity: Uuid) -> Self {
        Self::new(format!("ORGID#{identity}"), "ORGID")
    }

    pub fn registration(subject: &Subject) -> Self {
        Self::new(format!("USER#{subject}"), "REGISTRATION")
    }

    pub fn deletion(identity: Uuid) -> Self {
        Self::new(format!("DELETED#{identity}"), "DELETED")
    }

    pub fn email_code(code_hash: &str) -> Self {
        Self::new(format!("EMAILCODE#{code_hash}"), "EMAILCODE")
    }

    pub fn creation_log(subject: &Subject) -> Self {
        Self::new(format!("USER#{subject}"), "CREATIONS")
    }

    pub fn idempotency(key_hash: &str) -> Self {
        Self::new(format!("IDEMPOTENCY#{key_hash}"), "IDEMPOTENCY")
    }

    /// The mails to one address in one clock hour (hours since the epoch).
    pub fn address_mail_counter(address_hash: &str, hour: i64) -> Self {
        Self::new(format!("MAILTO#{address_hash}"), format!("HOUR#{hour}"))
    }
}

/// The partition key of an organisation (Query of its members, activity, sweep).
pub fn partition(slug: &Slug) -> AttributeValue {
    AttributeValue::S(org_pk(slug))
}

pub(super) const MEMBER_PREFIX: &str = "MEMBER#";

/// The `gsi1` partition of the memberships bound to a token subject.
pub fn memberships_of(subject: &str) -> String {
    format!("MEMBEROF#{subject}")
}

/// The `gsi1` partition of the invitations to an address ([`Email::key`]: case-insensitive).
pub fn invitations_to(email: &Email) -> String {
    format!("INVITED#{}", email.key())
}

/// Sort key of a membership in `gsi1`: when it began (joined, or invited), then its identity.
pub fn membership_since(at: chrono::DateTime<chrono::Utc>, identity: Uuid) -> String {
    format!("{}#{identity}", at.format("%Y-%m-%dT%H:%M:%S%.6fZ"))
}

/// The organisation whose partition key is `pk` (`ORG#<slug>`).
pub fn slug_of_partition(pk: &str) -> Option<Slug> {
    pk.strip_prefix("ORG#").and_then(|s| Slug::parse(s).ok())
}

/// Shards of the VAT schedule: spreads the index's partitions so that a day's due numbers are
/// not one hot key.
pub const VAT_CHECK_SHARDS: u32 = 8;

pub fn vat_check_queue(shard: u32) -> String {
    format!("VATDUE#{shard}")
}

/// The shard of an organisation: a stable hash (FNV-1a) of its slug.
pub fn vat_check_shard(slug: &Slug) -> u32 {
    let hash = slug.as_str().bytes().fold(0x811c_9dc5_u32, |h, b| {
        (h ^ u32::from(b)).wrapping_mul(0x0100_0193)
    });
    hash % VAT_CHECK_SHARDS
}

/// The `gsi1` partition of the `PURGE` markers: partitions of deleted organisations that are
/// still to be swept.
pub const PURGE_QUEUE: &str = "PURGE";

/// Sort key of a `PURGE` marker in `gsi1`: when the organisation was deleted, sortable as text
/// (RFC 3339, UTC, milliseconds).
pub fn purge_since(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// Sort key of the VAT schedule: sortable as text.
pub fn vat_check_due(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

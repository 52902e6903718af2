//! Keys of the single table, and the access patterns they serve.
//!
//! Every item of an organisation lives in its partition `ORG#<slug>`, so an organisation's reads
//! are key lookups or one Query, and its deletion is one partition sweep.
//!
//! | item                      | pk                    | sk                       | written by                |
//! |---------------------------|-----------------------|--------------------------|---------------------------|
//! | organisation profile      | `ORG#<slug>`          | `PROFILE`                | create, PATCH             |
//! | member (list, delete)     | `ORG#<slug>`          | `MEMBER#<identity>`      | create, add member, claim |
//! | member by token subject   | `ORG#<slug>`          | `MEMBERSUB#<sub>`        | create, claim             |
//! | member by e-mail          | `ORG#<slug>`          | `MEMBEREMAIL#<email>`    | create, add member, claim |
//! | activity event            | `ORG#<slug>`          | `ACTIVITY#<seq:012>`     | every change              |
//! | resource ledger           | `ORG#<slug>`          | `LEDGER`                 | platform events           |
//! | cluster                   | `ORG#<slug>`          | `CLUSTER#<id>`           | platform events           |
//! | cloud account             | `ORG#<slug>`          | `CLOUDACCOUNT#<id>`      | platform events           |
//! | monitoring tenant         | `ORG#<slug>`          | `TENANT#<id>`            | platform events           |
//! | payment method            | `ORG#<slug>`          | `PAYMENT#<id>`           | platform events           |
//! | quota overrides           | `ORG#<slug>`          | `QUOTAS`                 | platform events           |
//! | purge in progress         | `ORG#<slug>`          | `PURGE`                  | DELETE                    |
//! | organisation by identity  | `ORGID#<uuid>`        | `ORGID`                  | create, DELETE            |
//! | user's registration       | `USER#<sub>`          | `REGISTRATION`           | registration              |
//! | deleted organisation      | `DELETED#<uuid>`      | `DELETED`                | DELETE (TTL: 400 days)    |
//! | e-mail verification code  | `EMAILCODE#<sha256>`  | `EMAILCODE`              | create, PATCH (TTL: 24 h) |
//!
//! The profile also carries `gsi1pk` = `VATDUE#<shard>` and `gsi1sk` = the time its VAT number is
//! next due for a VIES check (RFC 3339, UTC, seconds), while it has a VAT number: the sparse
//! index the scheduled re-validation queries, shard by shard, for `gsi1sk <= now`.
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
//! - DELETE by identity: GetItem `ORGID#<uuid>` gives the slug.
//! - Activity page: Query `ACTIVITY#` between two sequence numbers (see `activity`).
//! - Verify an e-mail code: GetItem `EMAILCODE#<sha256(code)>` (the code itself is never stored).
//! - VAT numbers due: Query `gsi1` per shard, `gsi1pk = VATDUE#<n> AND gsi1sk <= now`.
//! - Compute information, quotas: the authorisation's BatchGet also reads `LEDGER` or
//!   `QUOTAS`: one round trip.
//! - Apply platform events: one BatchGet for a whole SQS batch reads every `PROFILE` and
//!   resource item it names (+ `LEDGER` for payment methods); then one TransactWriteItems per
//!   event: the resource item on condition of its `version` as read, `ADD` of the deltas to
//!   `LEDGER`, the profile's existence (or its next revision with an activity event). The
//!   resource items stay after deletion or detachment (tombstones), so that an older event
//!   arriving late does not bring a resource back (see `resources`).

use uuid::Uuid;

use crate::domain::platform::Resource;
use crate::domain::{Email, Slug, Subject};

pub const PK: &str = "pk";
pub const SK: &str = "sk";

pub fn org_pk(slug: &Slug) -> String {
    format!("ORG#{slug}")
}

pub const PROFILE_SK: &str = "PROFILE";
pub const LEDGER_SK: &str = "LEDGER";
pub const PURGE_SK: &str = "PURGE";
pub const QUOTAS_SK: &str = "QUOTAS";

pub const CLUSTER_PREFIX: &str = "CLUSTER#";
pub const CLOUD_ACCOUNT_PREFIX: &str = "CLOUDACCOUNT#";
pub const TENANT_PREFIX: &str = "TENANT#";
pub const PAYMENT_PREFIX: &str = "PAYMENT#";

/// The item of a resource that platform events describe.
pub fn resource_sk(resource: &Resource) -> String {
    match resource {
        Resource::Cluster(id) => format!("{CLUSTER_PREFIX}{id}"),
        Resource::CloudAccount(id) => format!("{CLOUD_ACCOUNT_PREFIX}{id}"),
        Resource::MonitoringTenant(id) => format!("{TENANT_PREFIX}{id}"),
        Resource::PaymentMethod(id) => format!("{PAYMENT_PREFIX}{id}"),
        Resource::Quotas => QUOTAS_SK.to_owned(),
    }
}

pub const MEMBER_PREFIX: &str = "MEMBER#";
pub fn member_sk(identity: Uuid) -> String {
    format!("{MEMBER_PREFIX}{identity}")
}

pub fn member_subject_sk(subject: &Subject) -> String {
    format!("MEMBERSUB#{subject}")
}

pub fn member_email_sk(email: &Email) -> String {
    format!("MEMBEREMAIL#{}", email.key())
}

pub const ACTIVITY_PREFIX: &str = "ACTIVITY#";
/// Zero-padded so that lexical order is numeric order.
pub fn activity_sk(seq: u64) -> String {
    format!("{ACTIVITY_PREFIX}{seq:012}")
}

pub fn org_identity_pk(identity: Uuid) -> String {
    format!("ORGID#{identity}")
}
pub const ORG_IDENTITY_SK: &str = "ORGID";

pub fn user_pk(subject: &Subject) -> String {
    format!("USER#{subject}")
}
pub const REGISTRATION_SK: &str = "REGISTRATION";

pub fn deleted_org_pk(identity: Uuid) -> String {
    format!("DELETED#{identity}")
}
pub const DELETED_SK: &str = "DELETED";

pub fn email_code_pk(code_hash: &str) -> String {
    format!("EMAILCODE#{code_hash}")
}
pub const EMAIL_CODE_SK: &str = "EMAILCODE";

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

/// Sort key of the VAT schedule: sortable as text.
pub fn vat_check_due(at: chrono::DateTime<chrono::Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

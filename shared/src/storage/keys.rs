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
//! | purge in progress         | `ORG#<slug>`          | `PURGE`                  | DELETE                    |
//! | organisation by identity  | `ORGID#<uuid>`        | `ORGID`                  | create, DELETE            |
//! | user's registration       | `USER#<sub>`          | `REGISTRATION`           | registration              |
//! | deleted organisation      | `DELETED#<uuid>`      | `DELETED`                | DELETE (TTL: 400 days)    |
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

use uuid::Uuid;

use crate::domain::{Email, Slug, Subject};

pub const PK: &str = "pk";
pub const SK: &str = "sk";

pub fn org_pk(slug: &Slug) -> String {
    format!("ORG#{slug}")
}

pub const PROFILE_SK: &str = "PROFILE";
pub const LEDGER_SK: &str = "LEDGER";
pub const PURGE_SK: &str = "PURGE";

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

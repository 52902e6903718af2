//! Records the service keeps beside the organisation itself: lookups, codes and tombstones.
//! Storage gives each its key (`storage::entities`); here they are plain data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::verification::EmailKind;
use super::{Email, Slug, Subject};

/// Which membership an e-mail address holds in an organisation, and who claimed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailLookup {
    /// The address, as the member was added with it (its key is [`Email::key`]).
    pub email: Email,
    pub member_identity: Uuid,
    /// Absent (not NULL) until claimed: the claim's condition is that it does not exist.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<Subject>,
}

/// The organisation an identity (UUID) names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdentityLookup {
    pub identity: Uuid,
    pub slug: Slug,
}

/// A user's sign-up: at most one per token subject.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Registration {
    pub subject: Subject,
    pub slug: Slug,
}

/// Who deleted which organisation when, kept after the partition is gone.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeletionRecord {
    pub identity: Uuid,
    pub slug: Slug,
    pub name: String,
    pub deleted_by: String,
    pub deleted_at: DateTime<Utc>,
    pub expires_at: i64,
}

/// What a verification code verifies. Stored under the code's hash, never the code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailCode {
    pub code_hash: String,
    pub slug: Slug,
    pub kind: EmailKind,
    pub email: Email,
    pub created_at: DateTime<Utc>,
    /// Epoch seconds; also the table's TTL attribute.
    pub expires_at: i64,
}

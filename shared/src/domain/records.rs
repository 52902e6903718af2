//! Records the service keeps beside the organisation itself: lookups, codes and tombstones.
//! Storage gives each its key (`storage::entities`); here they are plain data.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

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
    /// `OrganisationDeleted`, published from this record's insertion (docs/events.md): the
    /// deletion writes no activity event, and its sweep's removals publish nothing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outbound: Option<Box<super::activity::Outbound>>,
}

/// When a user created organisations (creates and registrations) in the last 24 hours: the
/// per-user limit is checked and moved in the create's own transaction, on condition of
/// `version`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CreationLog {
    pub subject: Subject,
    pub created_at: Vec<DateTime<Utc>>,
    /// 0: not stored yet.
    pub version: u64,
}

/// The first answer to a request made with an `Idempotency-Key`: written in the same
/// transaction as the change it answered, replayed for the same caller, route, key and body
/// for 24 hours.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdempotencyRecord {
    /// SHA-256 of caller, route and key.
    pub key_hash: String,
    /// SHA-256 of the request body (canonical JSON).
    pub request_hash: String,
    pub status: u16,
    pub body: String,
    /// Epoch seconds; also the table's TTL attribute.
    pub expires_at: i64,
}

/// A sliding window: the times within `window` before `now`, plus `now`, if fewer than `limit`
/// are there; otherwise how long until the oldest leaves the window (at least a second).
pub fn take_slot(
    times: &[DateTime<Utc>],
    now: DateTime<Utc>,
    window: chrono::Duration,
    limit: usize,
) -> Result<Vec<DateTime<Utc>>, u64> {
    let mut kept: Vec<DateTime<Utc>> = times
        .iter()
        .copied()
        .filter(|t| *t > now - window)
        .collect();
    kept.sort();
    if kept.len() >= limit {
        // The slot that frees first; with a limit of 0 none ever does: a whole window.
        let frees_at = match kept.len().checked_sub(limit).and_then(|i| kept.get(i)) {
            Some(oldest) if limit > 0 => *oldest + window,
            _ => now + window,
        };
        // Whole seconds, rounded up: a client that waits that long finds the slot free.
        let millis = (frees_at - now).num_milliseconds().max(1);
        return Err(u64::try_from((millis + 999) / 1000).unwrap_or(1));
    }
    kept.push(now);
    Ok(kept)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Duration;

    #[test]
    fn a_sliding_window_admits_the_limit_and_says_how_long_to_wait() {
        let now = Utc::now();
        let day = Duration::hours(24);
        let times: Vec<_> = (0..10)
            .map(|i| now - Duration::hours(23) + Duration::minutes(i))
            .collect();
        assert_eq!(take_slot(&times, now, day, 10), Err(3600));
        assert_eq!(take_slot(&times[..9], now, day, 10).unwrap().len(), 10);
        let old = vec![now - Duration::hours(25); 10];
        assert_eq!(take_slot(&old, now, day, 10).unwrap(), vec![now]);
    }

    #[test]
    fn the_wait_is_rounded_up_and_a_limit_of_zero_waits_a_window() {
        let now = Utc::now();
        let day = Duration::hours(24);
        // The oldest leaves the window in 10.2 s: a client told 10 would come back too early.
        let times = vec![now - day + Duration::milliseconds(10_200)];
        assert_eq!(take_slot(&times, now, day, 1), Err(11));
        assert_eq!(take_slot(&[], now, day, 0), Err(86_400));
        assert_eq!(take_slot(&times, now, day, 0), Err(86_400));
    }
}

//! Abuse budgets an organisation's admins cannot walk around (docs/plans.md, "Budgets"): the
//! verification and invitation mails an organisation sends, per day and per address, and the
//! changes of its VAT number (each a VIES call).
//!
//! The organisation's own counts live in its profile, which every write that sends a mail or
//! changes the VAT number reads and writes anyway: they are checked on the read and moved in the
//! write's own transaction under the revision guard, so no extra round trip is needed and no
//! race gets past a limit. The one count across organisations (mails per address per hour) is a
//! counter outside the partitions that the transaction `ADD`s to on condition that it is still
//! below the cap ([`AddressMailCounter`]): no read, and a full counter refuses the transaction,
//! which is then decided again with the mail suppressed (or refused, for a resend).

use chrono::{DateTime, Duration, DurationRound, Utc};
use serde::{Deserialize, Serialize};

use super::Rejection;

/// Verification and invitation mails one organisation may send per 24 hours, unless configured
/// otherwise (`MAX_MAILS_PER_ORGANISATION_PER_DAY`).
pub const DEFAULT_MAILS_PER_ORGANISATION_PER_DAY: usize = 200;

/// Mails one organisation may send to one address per hour: beyond it they are suppressed (a
/// resend is refused).
pub const MAILS_PER_ADDRESS_PER_ORGANISATION_PER_HOUR: usize = 5;

/// Mails one address may receive per clock hour from all organisations together.
pub const MAILS_PER_ADDRESS_PER_HOUR: u64 = 20;

/// Changes of an organisation's VAT number per 24 hours, unless configured otherwise
/// (`MAX_VAT_CHANGES_PER_ORGANISATION_PER_DAY`).
pub const DEFAULT_VAT_CHANGES_PER_ORGANISATION_PER_DAY: usize = 10;

const DAY: Duration = Duration::hours(24);
const HOUR: Duration = Duration::hours(1);

/// The configured budgets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Budgets {
    pub mails_per_organisation_per_day: usize,
    pub vat_changes_per_organisation_per_day: usize,
}

impl Default for Budgets {
    fn default() -> Self {
        Self {
            mails_per_organisation_per_day: DEFAULT_MAILS_PER_ORGANISATION_PER_DAY,
            vat_changes_per_organisation_per_day: DEFAULT_VAT_CHANGES_PER_ORGANISATION_PER_DAY,
        }
    }
}

/// One mail an organisation sent: to which address (its hash: the profile does not keep the
/// addresses it mailed) and when.
///
/// Stored compactly, as `"<first 16 hex digits of the hash>@<epoch seconds>"`: the profile
/// carries up to a day's budget of these (200), and it is read with every request and written
/// with every change, so its size is paid each time (a map of the whole hash and an RFC 3339
/// time took some 100 bytes an entry, 20 KB at the cap, 40 WRU more per change; this form some
/// 30). 64 bits of the hash tell one organisation's few hundred addresses apart; the time keeps
/// whole seconds, what `Retry-After` counts in. Entries stored in the old map form still load.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentMail {
    pub to: String,
    pub at: DateTime<Utc>,
}

/// Hex digits of an address hash a [`SentMail`] keeps when stored.
const KEPT_HASH_DIGITS: usize = 16;

fn kept(hash: &str) -> &str {
    hash.get(..KEPT_HASH_DIGITS).unwrap_or(hash)
}

impl SentMail {
    /// Whether this mail went to the address of hash `hash` (compared as stored).
    pub fn is_to(&self, hash: &str) -> bool {
        kept(&self.to) == kept(hash)
    }
}

impl Serialize for SentMail {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&format!("{}@{}", kept(&self.to), self.at.timestamp()))
    }
}

impl<'de> Deserialize<'de> for SentMail {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Stored {
            Compact(String),
            Map { to: String, at: DateTime<Utc> },
        }
        match Stored::deserialize(deserializer)? {
            Stored::Compact(text) => {
                let (to, seconds) = text
                    .split_once('@')
                    .ok_or_else(|| serde::de::Error::custom("a sent mail is <hash>@<seconds>"))?;
                let at = seconds
                    .parse()
                    .ok()
                    .and_then(|s| DateTime::from_timestamp(s, 0))
                    .ok_or_else(|| serde::de::Error::custom("a sent mail's time is seconds"))?;
                Ok(Self {
                    to: to.to_owned(),
                    at,
                })
            }
            Stored::Map { to, at } => Ok(Self {
                to: kept(&to).to_owned(),
                at,
            }),
        }
    }
}

/// The mails an organisation sent in the last 24 hours (at most its daily budget).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct MailsSent(pub Vec<SentMail>);

impl MailsSent {
    /// 429 when the organisation sent `limit` mails in the last 24 hours, with the seconds
    /// until the oldest of them leaves the window.
    pub fn within_budget(&self, limit: usize, now: DateTime<Utc>) -> Result<(), Rejection> {
        let mut recent: Vec<DateTime<Utc>> = self.since(now - DAY).map(|m| m.at).collect();
        if recent.len() < limit {
            return Ok(());
        }
        recent.sort();
        let frees_at = recent
            .get(recent.len() - limit)
            .map_or(now + DAY, |at| *at + DAY);
        Err(too_many(
            format!(
                "This organisation sent {limit} verification and invitation mails in the last 24 \
                 hours; try again later."
            ),
            frees_at - now,
        ))
    }

    /// The mails to the address `to` in the last hour, and when the latest went.
    pub fn to_address(&self, to: &str, now: DateTime<Utc>) -> (usize, Option<DateTime<Utc>>) {
        let to_it: Vec<DateTime<Utc>> = self
            .since(now - HOUR)
            .filter(|m| m.is_to(to))
            .map(|m| m.at)
            .collect();
        (to_it.len(), to_it.iter().max().copied())
    }

    /// When this organisation may mail `to` again: `None` now; else the time its hourly share
    /// for the address frees up.
    pub fn address_frees_at(&self, to: &str, now: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let mut to_it: Vec<DateTime<Utc>> = self
            .since(now - HOUR)
            .filter(|m| m.is_to(to))
            .map(|m| m.at)
            .collect();
        if to_it.len() < MAILS_PER_ADDRESS_PER_ORGANISATION_PER_HOUR {
            return None;
        }
        to_it.sort();
        to_it
            .get(to_it.len() - MAILS_PER_ADDRESS_PER_ORGANISATION_PER_HOUR)
            .map(|at| *at + HOUR)
    }

    /// Records a mail to `to`, forgetting those older than 24 hours.
    pub fn record(&mut self, to: &str, now: DateTime<Utc>) {
        self.0.retain(|m| m.at > now - DAY);
        self.0.push(SentMail {
            to: to.to_owned(),
            at: now,
        });
    }

    fn since(&self, from: DateTime<Utc>) -> impl Iterator<Item = &SentMail> {
        self.0.iter().filter(move |m| m.at > from)
    }
}

/// The count of mails to one address in one clock hour, across organisations: `ADD`ed to in
/// the transaction of the change that sends the mail, on condition that it is below
/// [`MAILS_PER_ADDRESS_PER_HOUR`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressMailCounter {
    pub address_hash: String,
    /// The clock hour, as hours since the epoch.
    pub hour: i64,
}

impl AddressMailCounter {
    pub fn new(address_hash: &str, now: DateTime<Utc>) -> Self {
        Self {
            address_hash: address_hash.to_owned(),
            hour: now.timestamp().div_euclid(3600),
        }
    }

    /// Epoch seconds after which the counter is of no use (the table's TTL).
    pub fn expires_at(&self) -> i64 {
        (self.hour + 2) * 3600
    }

    /// The seconds until the next clock hour, when a full counter is replaced by a new one.
    pub fn retry_after(now: DateTime<Utc>) -> u64 {
        let next = now
            .duration_trunc(HOUR)
            .map_or(now + HOUR, |start| start + HOUR);
        seconds(next - now)
    }
}

/// The VAT number changes of the last 24 hours, and this one: 429 when the organisation changed
/// its number `limit` times in the last 24 hours. Checked before VIES is asked.
pub fn count_vat_change(
    changes: &[DateTime<Utc>],
    limit: usize,
    now: DateTime<Utc>,
) -> Result<Vec<DateTime<Utc>>, Rejection> {
    let mut recent: Vec<DateTime<Utc>> = changes
        .iter()
        .copied()
        .filter(|at| *at > now - DAY)
        .collect();
    recent.sort();
    if recent.len() >= limit {
        let frees_at = recent
            .get(recent.len() - limit)
            .map_or(now + DAY, |at| *at + DAY);
        return Err(too_many(
            format!(
                "The VAT number of this organisation was changed {limit} times in the last 24 \
                 hours; try again later."
            ),
            frees_at - now,
        ));
    }
    recent.push(now);
    Ok(recent)
}

/// 429 with the seconds to wait (at least 1).
pub fn too_many(message: String, wait: Duration) -> Rejection {
    Rejection::TooMany {
        message,
        retry_after_seconds: seconds(wait),
    }
}

fn seconds(wait: Duration) -> u64 {
    u64::try_from(wait.num_seconds()).unwrap_or(0).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(seconds_ago: i64, now: DateTime<Utc>) -> DateTime<Utc> {
        now - Duration::seconds(seconds_ago)
    }

    const HASH: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn a_sent_mail_is_stored_as_a_short_string_and_the_old_map_still_loads() {
        let mail = SentMail {
            to: HASH.into(),
            at: DateTime::from_timestamp(1_765_000_000, 250_000_000).unwrap(),
        };
        let stored = serde_json::to_value(&mail).unwrap();
        assert_eq!(stored, serde_json::json!("0123456789abcdef@1765000000"));
        let loaded: SentMail = serde_json::from_value(stored).unwrap();
        // The hash's first 16 digits and whole seconds: the same address, the same second.
        assert!(loaded.is_to(HASH));
        assert!(!loaded.is_to(&HASH.replace('0', "f")));
        assert_eq!(
            loaded.at,
            DateTime::from_timestamp(1_765_000_000, 0).unwrap()
        );

        let old: SentMail = serde_json::from_value(
            serde_json::json!({"to": HASH, "at": "2025-12-06T05:46:40.25Z"}),
        )
        .unwrap();
        assert!(old.is_to(HASH));
        assert_eq!(old.to.len(), KEPT_HASH_DIGITS);

        for bad in ["no-separator", "abc@not-seconds", "abc@99999999999999999"] {
            assert!(
                serde_json::from_value::<SentMail>(serde_json::json!(bad)).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_budgets_count_stored_mails_as_recorded_ones() {
        let now = Utc::now();
        let mut sent = MailsSent::default();
        for _ in 0..MAILS_PER_ADDRESS_PER_ORGANISATION_PER_HOUR {
            sent.record(HASH, now - Duration::minutes(10));
        }
        let loaded: MailsSent =
            serde_json::from_value(serde_json::to_value(&sent).unwrap()).unwrap();
        assert_eq!(loaded.to_address(HASH, now).0, 5);
        assert!(loaded.address_frees_at(HASH, now).is_some());
        assert!(sent.address_frees_at(HASH, now).is_some());
    }

    #[test]
    fn the_daily_budget_counts_the_last_24_hours_only() {
        let now = Utc::now();
        let mut sent = MailsSent::default();
        for ago in [90_000, 80_000, 60] {
            sent.0.push(SentMail {
                to: "a".into(),
                at: at(ago, now),
            });
        }
        assert!(
            sent.within_budget(3, now).is_ok(),
            "one is older than a day"
        );
        let Err(Rejection::TooMany {
            retry_after_seconds,
            ..
        }) = sent.within_budget(2, now)
        else {
            panic!("two in the last day reach a budget of two");
        };
        // The older of the two (80,000 s ago) leaves the window in 6,400 s.
        assert_eq!(retry_after_seconds, 6_400);
        sent.record("b", now);
        assert_eq!(
            sent.0.len(),
            3,
            "recording forgets what is older than a day"
        );
    }

    #[test]
    fn an_address_has_five_mails_an_hour_from_one_organisation() {
        let now = Utc::now();
        let mut sent = MailsSent::default();
        for ago in [4_000, 3_000, 2_000, 1_000, 500] {
            sent.0.push(SentMail {
                to: "victim".into(),
                at: at(ago, now),
            });
        }
        assert_eq!(sent.to_address("victim", now), (4, Some(at(500, now))));
        assert_eq!(sent.address_frees_at("victim", now), None);
        sent.record("victim", now);
        assert_eq!(
            sent.address_frees_at("victim", now),
            Some(at(3_000, now) + HOUR)
        );
        assert_eq!(sent.address_frees_at("someone-else", now), None);
    }

    #[test]
    fn counters_are_per_clock_hour() {
        let now = DateTime::parse_from_rfc3339("2026-12-06T10:59:30Z")
            .unwrap()
            .with_timezone(&Utc);
        let counter = AddressMailCounter::new("h", now);
        assert_eq!(counter.hour, now.timestamp() / 3600);
        assert_eq!(AddressMailCounter::retry_after(now), 30);
        let next = AddressMailCounter::new("h", now + Duration::seconds(31));
        assert_eq!(next.hour, counter.hour + 1);
    }

    #[test]
    fn vat_changes_are_limited_per_day() {
        let now = Utc::now();
        let changes = vec![at(90_000, now), at(100, now), at(50, now)];
        assert_eq!(count_vat_change(&changes, 3, now).unwrap().len(), 3);
        assert!(matches!(
            count_vat_change(&changes, 2, now),
            Err(Rejection::TooMany { retry_after_seconds, .. }) if retry_after_seconds == 86_300
        ));
    }
}

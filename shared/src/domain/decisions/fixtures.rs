//! Fixtures of the decisions' table tests: a fixed clock, callers, members, an admin's access,
//! and plain-text shapes of a change's writes and of rejections, so that a case's expectation
//! reads as what the transaction will do.

use chrono::{DateTime, Duration, TimeZone, Utc};
use uuid::Uuid;

use super::Limits;
use crate::domain::authorisation::Access;
use crate::domain::budgets::{AddressMailCounter, Budgets, MailsSent, SentMail};
use crate::domain::change::{Change, IfNot, Operation, Profile, Record, RecordKey, Write};
use crate::domain::member::{KubernetesRole, Member, Role};
use crate::domain::organisation::tests_support::organisation;
use crate::domain::organisation::Organisation;
use crate::domain::verification::address_hash;
use crate::domain::{Caller, Email, Rejection, Subject};

/// A fixed instant, so that windows and boundaries are exact.
pub(crate) fn now() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 12, 1, 12, 0, 0).unwrap()
}

pub(crate) fn email(address: &str) -> Email {
    Email::parse("email", address).unwrap()
}

/// A caller whose e-mail `<name>@example.com` the identity provider verified.
pub(crate) fn caller(name: &str) -> Caller {
    Caller {
        subject: Subject::parse(name).unwrap(),
        email: Some(email(&format!("{name}@example.com"))),
        email_verified: true,
        username: Some(name.to_owned()),
        operator: false,
    }
}

/// A member `<name>@example.com`; `joined`: bound to the subject `name` (else an invitation).
pub(crate) fn member(name: &str, role: Role, joined: bool) -> Member {
    Member {
        identity: Uuid::new_v4(),
        email: Some(email(&format!("{name}@example.com"))),
        username: Some(name.to_owned()),
        role,
        kubernetes_role: KubernetesRole::None,
        subject: if joined { Subject::parse(name) } else { None },
        joined_at: now(),
        invitation: None,
    }
}

/// alice, a joined admin of `organisation`, with an empty ledger.
pub(crate) fn access_to(organisation: Organisation) -> Access {
    Access {
        caller: caller("alice"),
        organisation,
        member: member("alice", Role::Admin, true),
        ledger: Default::default(),
        quota_overrides: Default::default(),
        target_member: None,
        members: Vec::new(),
    }
}

/// alice's access to the fixture organisation (revision 1, one admin).
pub(crate) fn access() -> Access {
    access_to(organisation())
}

fn record_name(record: &Record) -> &'static str {
    match record {
        Record::Member(_) => "Member",
        Record::MemberBySubject(_) => "MemberBySubject",
        Record::MemberByEmail(_) => "MemberByEmail",
        Record::Resource(..) => "Resource",
        Record::OrganisationIdentity(_) => "OrganisationIdentity",
        Record::Registration(_) => "Registration",
        Record::Deletion(_) => "Deletion",
        Record::EmailCode(_) => "EmailCode",
        Record::PurgeMarker { .. } => "PurgeMarker",
        Record::CreationLog(_) => "CreationLog",
        Record::Idempotency(_) => "Idempotency",
    }
}

fn key_name(key: &RecordKey) -> &'static str {
    match key {
        RecordKey::Member(_) => "Member",
        RecordKey::MemberBySubject(_) => "MemberBySubject",
        RecordKey::MemberByEmail(_) => "MemberByEmail",
        RecordKey::OrganisationIdentity(_) => "OrganisationIdentity",
        RecordKey::EmailCode(_) => "EmailCode",
        RecordKey::Ledger => "Ledger",
    }
}

/// `"put Member if Absent else retry"`: what a write does, on what condition, and what a
/// failed condition means.
pub(crate) fn shape(write: &Write) -> String {
    let what = match &write.operation {
        Operation::Put(record) => format!("put {}", record_name(record)),
        Operation::Remove(key) => format!("remove {}", key_name(key)),
        Operation::Check(key) => format!("check {}", key_name(key)),
        Operation::CountMail(_) => "count AddressMail".to_owned(),
    };
    let if_not = match write.if_not {
        IfNot::Retry => "retry".to_owned(),
        IfNot::Refuse(refusal) => format!("refuse {refusal:?}"),
    };
    format!("{what} if {:?} else {if_not}", write.expect)
}

pub(crate) fn shapes(change: &Change) -> Vec<String> {
    change.writes.iter().map(shape).collect()
}

/// The records a change puts, in order.
pub(crate) fn puts(change: &Change) -> Vec<&Record> {
    change
        .writes
        .iter()
        .filter_map(|w| match &w.operation {
            Operation::Put(record) => Some(record.as_ref()),
            _ => None,
        })
        .collect()
}

/// The address counters a change `ADD`s a mail to, in order.
pub(crate) fn counters(change: &Change) -> Vec<&AddressMailCounter> {
    change
        .writes
        .iter()
        .filter_map(|w| match &w.operation {
            Operation::CountMail(counter) => Some(counter),
            _ => None,
        })
        .collect()
}

/// The counter of mails to `address` in the clock hour of [`now`].
pub(crate) fn counter(address: &str) -> AddressMailCounter {
    AddressMailCounter::new(&address_hash(&email(address)), now())
}

/// Mails an organisation sent: to each address, that long before [`now`].
pub(crate) fn mails_sent(sent: &[(&str, Duration)]) -> MailsSent {
    MailsSent(
        sent.iter()
            .map(|(address, age)| SentMail {
                to: address_hash(&email(address)),
                at: now() - *age,
            })
            .collect(),
    )
}

/// The default budgets, or `mails` and `vat_changes` per day, and whether the address's
/// counter across organisations is full.
pub(crate) fn limits(mails: usize, vat_changes: usize, address_capped: bool) -> Limits {
    Limits {
        budgets: Budgets {
            mails_per_organisation_per_day: mails,
            vat_changes_per_organisation_per_day: vat_changes,
        },
        address_capped,
    }
}

/// The profile a change writes, and the revision it was decided on; panics for any other
/// profile operation.
pub(crate) fn updated(change: &Change) -> (&Organisation, u64) {
    match &change.profile {
        Profile::Update(update) => (update.organisation(), update.read_revision()),
        other => panic!("expected a profile update, got {other:?}"),
    }
}

/// A rejection's kind (its HTTP meaning) and its whole text (message and field details).
pub(crate) fn gist(rejection: &Rejection) -> (&'static str, String) {
    match rejection {
        Rejection::Invalid { message, details } => {
            ("invalid", format!("{message} {}", details.join("; ")))
        }
        Rejection::Forbidden(message) => ("forbidden", message.clone()),
        Rejection::NotFound(message) => ("not found", message.clone()),
        Rejection::Gone(message) => ("gone", message.clone()),
        Rejection::TooMany { message, .. } => ("too many", message.clone()),
    }
}

/// Asserts that `result` is the rejection `kind` whose text contains `says`.
#[track_caller]
pub(crate) fn assert_rejected<T: std::fmt::Debug>(
    case: &str,
    result: &Result<T, Rejection>,
    kind: &str,
    says: &str,
) {
    match result {
        Err(rejection) => {
            let (actual, text) = gist(rejection);
            assert_eq!(actual, kind, "{case}: rejection kind ({text})");
            assert!(text.contains(says), "{case}: '{text}' should say '{says}'");
        }
        Ok(value) => panic!("{case}: expected a {kind} rejection saying '{says}', got {value:?}"),
    }
}
